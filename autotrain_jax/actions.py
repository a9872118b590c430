"""Action sets: each decodes an agent's action into one `Control`.

- `full`: id `f * H + r` is LR x full_lr_factors[f] (0.9, 1.0, 1.1) and rewind r;
  id 3H re-initialises, id 3H + 1 stops: 3H + 2 actions.
- `reduced`: ids 0..4 are LR x reduced_lr_factors (1.0, 0.8, 0.2, 1.2, 1.8);
  5 re-initialises (LR kept), 6 stops.
- `continuous`: a in [-1, 1]^4: LR x max_lr_factor ** a0; rewind
  round((a1 + 1) / 2 * (H - 1)); re-init if a2 > reinit_threshold; stop if
  a3 > stop_threshold. Stop wins over re-init and keeps the rewind, so that
  "stop with the weights of r steps ago" is one action (early stopping with
  restore); re-init wins over LR and rewind.
- `self_play` (the prototype's self-play box): a in [-1, 1]^4: LR x
  max_lr_factor ** a0; batch size x max_batch_factor ** a1 (kept within
  [batch_size_min, batch_size_max]); re-init if a2 > reinit_threshold; stop if
  a3 > stop_threshold (stop wins over re-init, which wins over the scalings).

Inside jit, out-of-range ids are clipped to the valid range and continuous actions
are clipped to the box, with NaN read as 0; `info["invalid"]` flags both.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from autotrain_jax.config import FULL_NUM_FACTORS, REDUCED_NUM_FACTORS, EnvConfig
from autotrain_jax.params import EnvParams

CONTINUOUS_DIM = 4
REDUCED_REINIT, REDUCED_STOP = REDUCED_NUM_FACTORS, REDUCED_NUM_FACTORS + 1
REDUCED_NUM_ACTIONS = REDUCED_NUM_FACTORS + 2
SPECIAL_ACTIONS = ("reinit", "stop")  # in this order after the LR moves
BOX_SPECIAL = 2  # the box component raising the first special action (a2, then a3)


class Control(NamedTuple):
    """What one environment step does, whatever the action set."""

    lr_factor: jax.Array  # () float32, multiplies the learning rate
    rewind: jax.Array  # () int32, newest history entries to drop
    batch_factor: jax.Array  # () float32, multiplies the batch size (self_play)
    reinit: jax.Array  # () bool, fresh weights and optimizer state
    stop: jax.Array  # () bool, end the episode now
    invalid: jax.Array  # () bool, the action was outside its space


def num_actions(config: EnvConfig) -> int:
    """Discrete actions of the set (3H + 2 for `full`); the box size of the
    `continuous` and `self_play` sets."""
    if config.action_set == "full":
        return _full_stop(config.history) + 1
    if config.action_set == "reduced":
        return REDUCED_NUM_ACTIONS
    return CONTINUOUS_DIM


def is_box(config: EnvConfig) -> bool:
    """Whether the action set is a box of continuous actions."""
    return config.action_set in ("continuous", "self_play")


def keep(config: EnvConfig) -> jax.Array:
    """The action that keeps the LR (and batch size), and neither rewinds,
    re-initialises nor stops: a constant-LR step."""
    if config.action_set == "full":
        return jnp.int32(config.history)  # LR x1.0 (factor index 1), rewind 0
    if config.action_set == "reduced":
        return jnp.int32(0)
    if config.action_set == "self_play":
        return jnp.array([0.0, 0.0, -1.0, -1.0])  # LR and batch size x1
    return jnp.array([0.0, -1.0, -1.0, -1.0])  # LR x1, rewind 0


def stop(config: EnvConfig) -> jax.Array:
    """The action that ends the episode with the current weights."""
    return _special(config, "stop")


def reinit(config: EnvConfig) -> jax.Array:
    """The action that re-initialises the weights (and keeps the LR)."""
    return _special(config, "reinit")


def special_slot(config: EnvConfig, name: str) -> int:
    """Where the special action `name` (one of `SPECIAL_ACTIONS`) lives: its id
    in the discrete sets, the component of the box that raises it in the box
    sets."""
    if name not in SPECIAL_ACTIONS:
        raise ValueError(f"name must be one of {SPECIAL_ACTIONS}, got {name!r}")
    offset = SPECIAL_ACTIONS.index(name)
    if config.action_set == "full":
        return _full_reinit(config.history) + offset
    if config.action_set == "reduced":
        return REDUCED_REINIT + offset
    return BOX_SPECIAL + offset


def _special(config: EnvConfig, name: str) -> jax.Array:
    """The id of a special action in the discrete sets; in the box sets, `keep`
    with its component raised."""
    slot = special_slot(config, name)
    if config.action_set in ("full", "reduced"):
        return jnp.int32(slot)
    return keep(config).at[slot].set(1.0)


def _full_reinit(history: int) -> int:
    return FULL_NUM_FACTORS * history  # the first id after the LR x rewind grid


def _full_stop(history: int) -> int:
    return _full_reinit(history) + 1


def _decode_full(action: jax.Array, params: EnvParams, history: int) -> Control:
    clipped = jnp.clip(action, 0, _full_stop(history))
    is_move = clipped < _full_reinit(history)
    index = jnp.minimum(clipped // history, FULL_NUM_FACTORS - 1)
    factor = jnp.asarray(params.full_lr_factors)[index]
    return Control(
        lr_factor=jnp.where(is_move, factor, 1.0),
        rewind=jnp.where(is_move, clipped % history, 0).astype(jnp.int32),
        batch_factor=jnp.float32(1.0),
        reinit=clipped == _full_reinit(history),
        stop=clipped == _full_stop(history),
        invalid=clipped != action,
    )


def _decode_reduced(action: jax.Array, params: EnvParams) -> Control:
    clipped = jnp.clip(action, 0, REDUCED_NUM_ACTIONS - 1)
    is_move = clipped < REDUCED_NUM_FACTORS
    index = jnp.minimum(clipped, REDUCED_NUM_FACTORS - 1)
    factor = jnp.asarray(params.reduced_lr_factors)[index]
    return Control(
        lr_factor=jnp.where(is_move, factor, 1.0),
        rewind=jnp.int32(0),
        batch_factor=jnp.float32(1.0),
        reinit=clipped == REDUCED_REINIT,
        stop=clipped == REDUCED_STOP,
        invalid=clipped != action,
    )


def _into_box(action: jax.Array) -> jax.Array:
    """A box action clipped to [-1, 1], NaN read as 0."""
    return jnp.clip(jnp.nan_to_num(action, nan=0.0), -1.0, 1.0)


def _decode_continuous(action: jax.Array, params: EnvParams, history: int) -> Control:
    clipped = _into_box(action)
    rewind = jnp.round((clipped[1] + 1.0) / 2.0 * (history - 1)).astype(jnp.int32)
    stop = clipped[3] > params.stop_threshold
    reinit = (clipped[2] > params.reinit_threshold) & ~stop
    return Control(
        lr_factor=jnp.where(stop | reinit, 1.0, params.max_lr_factor ** clipped[0]),
        rewind=jnp.where(reinit, 0, rewind),
        batch_factor=jnp.float32(1.0),
        reinit=reinit,
        stop=stop,
        invalid=jnp.any(clipped != action),
    )


def _decode_self_play(action: jax.Array, params: EnvParams) -> Control:
    clipped = _into_box(action)
    stop = clipped[3] > params.stop_threshold
    reinit = (clipped[2] > params.reinit_threshold) & ~stop
    scale = ~(stop | reinit)
    return Control(
        lr_factor=jnp.where(scale, params.max_lr_factor ** clipped[0], 1.0),
        rewind=jnp.int32(0),
        batch_factor=jnp.where(scale, params.max_batch_factor ** clipped[1], 1.0),
        reinit=reinit,
        stop=stop,
        invalid=jnp.any(clipped != action),
    )


def decode(action: jax.Array, params: EnvParams, config: EnvConfig) -> Control:
    """Maps an action of `config.action_set` to a `Control` (jit-safe)."""
    if config.action_set == "full":
        return _decode_full(jnp.asarray(action, jnp.int32), params, config.history)
    if config.action_set == "reduced":
        return _decode_reduced(jnp.asarray(action, jnp.int32), params)
    action = jnp.asarray(action, jnp.float32)
    if config.action_set == "self_play":
        return _decode_self_play(action, params)
    return _decode_continuous(action, params, config.history)


def scale_lr(lr: jax.Array, factor: jax.Array, params: EnvParams) -> jax.Array:
    """The LR after a decision's `factor`, within [lr_min, lr_max]; the env and
    `controllers.steer` both apply it so."""
    return jnp.clip(lr * factor, params.lr_min, params.lr_max).astype(jnp.float32)


def cosine_fraction(t: jax.Array, horizon, final_fraction: float = 0.01) -> jax.Array:
    """The cosine's fraction of its peak at step `t` of `horizon`: 1 at 0,
    `final_fraction` from `horizon` on (`baselines.cosine_decay`'s shape)."""
    cosine = 0.5 * (1.0 + jnp.cos(jnp.pi * jnp.minimum(t, horizon) / horizon))
    return final_fraction + (1 - final_fraction) * cosine


def block_lr(
    config: EnvConfig, lr: jax.Array, block: jax.Array, budget: jax.Array
) -> jax.Array:
    """The LR block `block` (0-based) of a `budget`-block run trains with, the
    controlled `lr` shaped by `config.lr_schedule`; the env and
    `controllers.steer` both apply it so."""
    if config.lr_schedule == "constant":
        return lr
    fraction = cosine_fraction(jnp.asarray(block, jnp.float32), budget)
    return (lr * fraction).astype(jnp.float32)


def encode_continuous(control: Control, params: EnvParams, history: int) -> jax.Array:
    """The `continuous` action that decodes to `control` (LR factor up to float
    rounding), so a controller of any action set can act in the continuous one.

    The factor must lie within [1 / max_lr_factor, max_lr_factor]; it is clipped.
    """
    a0 = jnp.log(control.lr_factor) / jnp.log(params.max_lr_factor)
    a1 = 2.0 * control.rewind / max(history - 1, 1) - 1.0
    a2 = jnp.where(control.reinit, 1.0, -1.0)
    a3 = jnp.where(control.stop, 1.0, -1.0)
    action = jnp.stack([a0, a1, a2, a3]).astype(jnp.float32)
    return jnp.clip(action, -1.0, 1.0)


def control_name(lr_factor: float, rewind: int, reinit: bool, stop: bool) -> str:
    """A readable label for one decoded control (host side, for logs)."""
    if stop:
        return "stop"
    if reinit:
        return "reinit"
    parts = [f"lr x{lr_factor:.3g}"]
    if rewind:
        parts.append(f"rewind {rewind}")
    return ", ".join(parts)


def validate_actions(batch, config: EnvConfig, num_envs: int) -> None:
    """`validate_action` for a batch of `num_envs` actions (vector adapters)."""
    batch = np.asarray(batch)
    if len(batch.shape) < 1 or batch.shape[0] != num_envs:
        raise ValueError(
            f"actions must hold one action per env ({num_envs}), got shape "
            f"{batch.shape}"
        )
    for i, action in enumerate(batch):
        try:
            validate_action(action, config)
        except ValueError as error:
            raise ValueError(f"actions[{i}]: {error}") from None


def validate_action(action, config: EnvConfig) -> None:
    """Host-side check for adapters: raises ValueError on an invalid action."""
    action = np.asarray(action)
    if is_box(config):
        if action.shape != (CONTINUOUS_DIM,):
            raise ValueError(f"action must have shape (4,), got {action.shape}")
        if not np.isfinite(action).all() or np.abs(action).max() > 1.0:
            raise ValueError(f"action must be finite and in [-1, 1], got {action}")
        return
    n = num_actions(config)
    if action.shape != () or not np.issubdtype(action.dtype, np.integer):
        raise ValueError(f"action must be an integer id, got {action!r}")
    if not 0 <= int(action) < n:
        raise ValueError(f"action must be in [0, {n}) for {config.action_set!r}")
