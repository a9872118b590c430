"""Adapters that give the environment other loop conventions."""

from __future__ import annotations

from typing import Any

from gymnax.wrappers import LegacyStepAPIWrapper


class LegacyWrapper(LegacyStepAPIWrapper):
    """gymnax's `LegacyStepAPIWrapper`: the pre-1.0 5-tuple
    `(obs, state, reward, done, info)` for PureJaxRL-style loops and rejax 0.1,
    with `done = terminated | truncated` and both flags kept in `info`.

    Unlike gymnax's own, it is safe under `copy.deepcopy` and `pickle` (rejax
    deep-copies its env): gymnax's forwards every missing attribute to
    `self._env`, also on the bare instance that copy and pickle build without
    `__init__`, where `_env` itself is missing, and so recurses forever.
    """

    def __getattr__(self, name: str) -> Any:
        if name == "_env" or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._env, name)
