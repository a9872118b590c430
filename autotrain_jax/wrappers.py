"""Adapters that give the environment other loop conventions."""

from __future__ import annotations

import jax

from autotrain_jax.env import AutoTrainEnv, EnvState
from autotrain_jax.params import EnvParams


class LegacyWrapper:
    """The pre-1.0 gymnax 5-tuple `(obs, state, reward, done, info)`.

    For PureJaxRL-style loops. `done = terminated | truncated`; `info` keeps both
    flags so that a learner can still bootstrap the value on truncation.
    """

    def __init__(self, env: AutoTrainEnv):
        self._env = env

    def __getattr__(self, name):
        return getattr(self._env, name)

    def reset(self, key: jax.Array, params: EnvParams | None = None):
        return self._env.reset(key, params)

    def step(
        self, key: jax.Array, state: EnvState, action, params: EnvParams | None = None
    ):
        obs, state, reward, terminated, truncated, info = self._env.step(
            key, state, action, params
        )
        info = {**info, "terminated": terminated, "truncated": truncated}
        return obs, state, reward, terminated | truncated, info
