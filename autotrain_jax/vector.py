"""A batch of environments as one: `vmap`, or one program per group of rows.

`batched(env, num_envs)` is what PPO steps: `vmap` over `env.reset` and
`env.step`. With `grouped=True`, an env that defines `batch_groups(num_envs)`
(`AutoTrainEnv.batch_groups`) has each group of consecutive rows vmapped with
its own env: a group runs only its own program and carries only its own
state. Under one `vmap`, an env whose episodes differ in a discrete setting
(the inner optimizer of a set) computes every value of it for every row and
carries every value's state; grouped, each row computes and carries one.

The batch's state is opaque to its user: one batched state, or a tuple of
them, one per group (their structures may differ). Observations, rewards and
infos are one batch, rows in order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp


class Batched(NamedTuple):
    """The reset and step of a batch of `num_envs` envs."""

    # (keys [n], params, rows=range(num_envs)) -> (obs [n, ...], states): the
    # rows `rows` of the batch (a process's share), one key each; a grouped
    # batch resets all of them at once.
    reset: Callable
    # (keys [num_envs], states, actions [num_envs, ...], params) -> env.step's
    # outputs for the whole batch.
    step: Callable


def batched(env, num_envs: int, grouped: bool = False) -> Batched:
    """`env`'s batch of `num_envs`, vmapped whole or by `env.batch_groups`.

    Raises:
      ValueError: if `grouped` and `env` defines no `batch_groups`.
    """
    if not grouped:
        reset = jax.vmap(env.reset, in_axes=(0, None))
        return Batched(
            lambda keys, params, rows=None: reset(keys, params),
            jax.vmap(env.step, in_axes=(0, 0, 0, None)),
        )
    if not hasattr(env, "batch_groups"):
        raise ValueError(
            f"a grouped batch needs an env with batch_groups (an AutoTrainEnv); "
            f"{type(env).__name__} has none"
        )
    groups = env.batch_groups(num_envs)

    def reset(keys, params, rows: range = range(num_envs)):
        if rows != range(num_envs):
            raise ValueError(
                f"a grouped batch resets all its rows at once (one process), "
                f"got rows {rows} of {num_envs}"
            )
        obs, states = [], []
        for group, member in groups:
            reset_g = jax.vmap(member.reset, in_axes=(0, None))
            obs_g, state_g = reset_g(keys[group.start : group.stop], params)
            obs.append(obs_g)
            states.append(state_g)
        return jnp.concatenate(obs), tuple(states)

    def step(keys, states, actions, params):
        outs = []
        for (group, member), state in zip(groups, states, strict=True):
            rows = slice(group.start, group.stop)
            outs.append(
                jax.vmap(member.step, in_axes=(0, 0, 0, None))(
                    keys[rows], state, actions[rows], params
                )
            )
        states = tuple(out[1] for out in outs)
        obs, reward, terminated, truncated, info = jax.tree.map(
            lambda *leaves: jnp.concatenate(leaves),
            *[(obs, *rest) for obs, _, *rest in outs],
        )
        return obs, states, reward, terminated, truncated, info

    return Batched(reset, step)
