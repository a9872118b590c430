"""Evaluating a controller: the training it steers, scored on the test split."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from autotrain_jax.env import AutoTrainEnv, EnvParams
from autotrain_jax.episode_log import rollout

Policy = Callable[[jax.Array, jax.Array], jax.Array]  # (key, obs [H, F]) -> action


def keep_policy(env: AutoTrainEnv) -> Policy:
    """Constant LR: keep the LR, never rewind, re-init or stop."""
    config = env.config
    if config.action_set == "full":
        action = jnp.int32(config.history)  # LR x1.0 (factor index 1), rewind 0
    elif config.action_set == "reduced":
        action = jnp.int32(0)
    else:
        action = jnp.array([0.0, -1.0, -1.0, -1.0])
    return lambda key, obs: action


def evaluate(
    env: AutoTrainEnv, params: EnvParams, policy: Policy, keys: jax.Array
) -> dict[str, np.ndarray]:
    """One episode per key; per-seed results of the training the policy steered.

    Returns arrays [seeds]: test_accuracy (the split `step` never reads),
    holdout_accuracy and train_accuracy (whole splits), inner_steps, env_steps,
    episode_return.
    """
    horizon = int(params.max_steps_in_episode)

    def one(key):
        log, state = rollout(env, params, policy, key, horizon)
        return {
            "test_accuracy": env.accuracy(state, params, "test"),
            "holdout_accuracy": env.accuracy(state, params, "holdout"),
            "train_accuracy": env.accuracy(state, params, "train"),
            "inner_steps": state.inner_steps,
            "env_steps": state.time,
            "episode_return": jnp.sum(jnp.where(log["alive"], log["reward"], 0.0)),
        }

    return jax.device_get(jax.jit(jax.vmap(one))(keys))
