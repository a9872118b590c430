"""PPO's advantage estimate and clipped surrogate loss, as pure functions."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from autotrain_jax.agents.ppo import networks
from autotrain_jax.agents.ppo.config import PPOConfig


class Batch(NamedTuple):
    """Transitions, every leaf with leading axes [T, B] (or flattened [N])."""

    obs: jax.Array  # [T, B, H, F] normalised observations
    action: jax.Array  # [T, B] ids or [T, B, A]
    log_prob: jax.Array  # [T, B] under the behaviour policy
    value: jax.Array  # [T, B] V(obs)
    advantage: jax.Array  # [T, B]
    target: jax.Array  # [T, B] value target


def compute_gae(
    reward: jax.Array,
    value: jax.Array,
    next_value: jax.Array,
    terminated: jax.Array,
    done: jax.Array,
    gamma: float,
    gae_lambda: float,
) -> tuple[jax.Array, jax.Array]:
    """Generalised advantage estimation over a rollout with auto-resets.

    Args:
      reward: [T, B].
      value: [T, B], V of each step's observation.
      next_value: [T, B], V of the observation that followed each step *before*
        any auto-reset (`info["final_observation"]`). It is bootstrapped unless the
        episode terminated, so a truncated episode (the horizon) still bootstraps.
      terminated: [T, B] bool.
      done: [T, B] bool, `terminated | truncated`.
      gamma: the discount.
      gae_lambda: GAE's lambda.

    Returns:
      advantages and value targets, both [T, B].
    """
    not_terminated = 1.0 - terminated.astype(jnp.float32)
    not_done = 1.0 - done.astype(jnp.float32)
    delta = reward + gamma * not_terminated * next_value - value

    def backward(gae, inputs):
        delta, not_done = inputs
        gae = delta + gamma * gae_lambda * not_done * gae
        return gae, gae

    _, advantage = jax.lax.scan(
        backward, jnp.zeros_like(delta[0]), (delta, not_done), reverse=True
    )
    return advantage, advantage + value


def ppo_loss(
    network: networks.ActorCritic, agent_params, batch: Batch, config: PPOConfig
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Clipped-surrogate policy loss + value loss (clipped to `config.vf_clip`
    around the rollout's values if set) - entropy bonus.

    `batch` leaves are [N, ...]; advantages are normalised within the minibatch.
    """
    out = network.apply(agent_params, batch.obs)
    continuous = network.continuous
    new_log_prob = networks.log_prob(out, batch.action, continuous)
    ratio = jnp.exp(new_log_prob - batch.log_prob)
    advantage = (batch.advantage - batch.advantage.mean()) / (
        batch.advantage.std() + 1e-8
    )
    clipped_ratio = jnp.clip(ratio, 1.0 - config.clip_eps, 1.0 + config.clip_eps)
    policy_loss = -jnp.minimum(ratio * advantage, clipped_ratio * advantage).mean()

    value_error = (out.value - batch.target) ** 2
    if config.vf_clip is not None:
        value_clipped = batch.value + jnp.clip(
            out.value - batch.value, -config.vf_clip, config.vf_clip
        )
        value_error = jnp.maximum(value_error, (value_clipped - batch.target) ** 2)
    value_loss = 0.5 * value_error.mean()
    entropy = networks.entropy(out, continuous).mean()
    total = policy_loss + config.vf_coef * value_loss - config.ent_coef * entropy
    return total, {
        "policy_loss": policy_loss,
        "value_loss": value_loss,
        "entropy": entropy,
        "approx_kl": ((ratio - 1.0) - jnp.log(ratio)).mean(),
        "clip_fraction": jnp.mean(jnp.abs(ratio - 1.0) > config.clip_eps),
    }
