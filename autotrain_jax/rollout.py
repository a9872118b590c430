"""Policies and the one episode loop that runs them.

A `Policy` is `init() -> policy_state` and `act(key, obs, policy_state) ->
(action, policy_state)`: a learned controller, a hand-made baseline and a
random policy all run through `rollout`. A plain `fn(key, obs) -> action` is a
policy without state (`as_policy`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from optax.tree_utils import tree_where

from autotrain_jax.env import AutoTrainEnv, EnvState
from autotrain_jax.params import EnvParams
from autotrain_jax.tasks import max_budget


class Policy(NamedTuple):
    """A controller with its own state, in the shape `rollout` runs."""

    init: Callable[[], Any]  # () -> policy_state
    act: Callable[[jax.Array, jax.Array, Any], tuple[jax.Array, Any]]


def stateless(fn: Callable[[jax.Array, jax.Array], jax.Array]) -> Policy:
    """Wraps `fn(key, obs) -> action` (e.g. a trained controller) as a `Policy`."""
    return Policy(lambda: (), lambda key, obs, state: (fn(key, obs), state))


def as_policy(policy: Policy | Callable[[jax.Array, jax.Array], jax.Array]) -> Policy:
    """`policy` if it is a `Policy`, else a stateless `fn(key, obs) -> action`."""
    return policy if isinstance(policy, Policy) else stateless(policy)


def rollout(
    env: AutoTrainEnv,
    params: EnvParams,
    policy: Policy | Callable[[jax.Array, jax.Array], jax.Array],
    key: jax.Array,
    num_steps: int | None = None,
) -> tuple[dict[str, jax.Array], EnvState]:
    """Runs one episode of at most `num_steps` (default: the longest budget
    `params` allows; give it when `params` is traced) in one `lax.scan`.

    Uses the raw `step_env`: once the episode ends the state is frozen, and the
    steps after it are masked out by `"alive"`.

    Returns:
      log: the per-step info of `step_env` plus reward, terminated, truncated and
        alive (whether the episode was still running before that step), each with
        leading axis `num_steps`;
      state: the state the episode ended in.
    """
    policy = as_policy(policy)
    num_steps = max_budget(params) if num_steps is None else num_steps
    key_reset, key_steps = jax.random.split(key)
    obs, state = env.reset(key_reset, params)

    def one_step(carry, key):
        obs, state, policy_state, alive = carry
        key_policy, key_step = jax.random.split(key)
        action, policy_state = policy.act(key_policy, obs, policy_state)
        next_obs, next_state, reward, terminated, info = env.step_env(
            key_step, state, action, params
        )
        truncated = env.is_truncated(next_state, params)
        log = {**info, "reward": reward, "terminated": terminated}
        log |= {"truncated": truncated, "alive": alive}
        state = tree_where(alive, next_state, state)
        carry = (next_obs, state, policy_state, alive & ~(terminated | truncated))
        return carry, log

    keys = jax.random.split(key_steps, num_steps)
    carry = (obs, state, policy.init(), jnp.bool_(True))
    (_, state, _, _), log = jax.lax.scan(one_step, carry, keys)
    return log, state
