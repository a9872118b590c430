"""A curriculum: task ranges that widen, or budgets that lengthen, over training."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from autotrain_jax.params import EnvParams
from autotrain_jax.tasks import CURRICULUM_SETTINGS, is_range

_GEOMETRIC = ("initial_lr", "train_subset_size")  # move by ratios, not differences


def _as_range(value) -> tuple:
    return tuple(value) if is_range(value) else (value, value)


@dataclasses.dataclass(frozen=True)
class Curriculum:
    """Moves sampled task settings from `start` to the env params' own values.

    At PPO update u, each setting in `start` (a value or a `(low, high)` range
    of `autotrain_jax.tasks.CURRICULUM_SETTINGS`) lies a fraction min(u / updates, 1) of
    the way from its start to the env params' value: geometrically for
    `initial_lr` and `train_subset_size`, linearly (rounded) for
    `max_steps_in_episode`. So `Curriculum({"initial_lr": (1e-2, 1e-2)}, 100)`
    over params with `initial_lr=(1e-4, 1.0)` starts every episode at 1e-2 and
    widens the range to [1e-4, 1] over 100 updates. It runs inside the jitted
    training loop: the update count is traced.
    """

    start: Mapping[str, Any]
    updates: int

    def __post_init__(self):
        unknown = set(self.start) - set(CURRICULUM_SETTINGS)
        if unknown:
            raise ValueError(
                f"curriculum settings must be among {CURRICULUM_SETTINGS}, "
                f"got {sorted(unknown)}"
            )
        if not isinstance(self.updates, int) or self.updates < 1:
            raise ValueError(f"updates must be an integer >= 1, got {self.updates!r}")
        for name, value in self.start.items():
            low, high = _as_range(value)
            if not 0 < low <= high:
                raise ValueError(
                    f"curriculum start for {name} must be positive with low <= high,"
                    f" got {value!r}"
                )

    def check(self, params: EnvParams) -> None:
        """Raises ValueError if `params` cannot be the end of this curriculum."""
        if "train_subset_size" in self.start and params.train_subset_size is None:
            raise ValueError(
                "a train_subset_size curriculum needs params.train_subset_size "
                "(make_env(..., train_size=(low, high)))"
            )

    def __call__(self, params: EnvParams, update: jax.Array) -> EnvParams:
        """The env params of PPO update `update` (traced or concrete)."""
        self.check(params)
        fraction = jnp.clip(jnp.asarray(update, jnp.float32) / self.updates, 0.0, 1.0)
        settings = {}
        for name, start in self.start.items():
            pairs = zip(_as_range(start), _as_range(getattr(params, name)), strict=True)
            if name in _GEOMETRIC:
                bounds = [
                    s * jnp.exp(fraction * jnp.log(jnp.float32(e) / s))
                    for s, e in pairs
                ]
            else:
                bounds = [jnp.round(s + fraction * (e - s)) for s, e in pairs]
            if name != "initial_lr":
                bounds = [jnp.round(b).astype(jnp.int32) for b in bounds]
            settings[name] = tuple(bounds)
        return params.replace(**settings)
