"""Actor-critic network and its action distributions (categorical, Gaussian)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


class PolicyOutput(NamedTuple):
    """Distribution parameters and value for a batch of observations."""

    actor: jax.Array  # [..., A] the actor head: categorical logits, or Gaussian means
    log_std: jax.Array  # [A] Gaussian log std ([0] unused when discrete)
    value: jax.Array  # [...]


class ActorCritic(nn.Module):
    """Separate tanh MLPs for policy and value over the flattened observation."""

    num_actions: int
    continuous: bool = False
    hidden: Sequence[int] = (64, 64)

    @nn.compact
    def __call__(self, obs: jax.Array) -> PolicyOutput:
        x = obs.reshape(*obs.shape[:-2], -1)  # [..., H, F] -> [..., H * F]
        actor, critic = x, x
        for width in self.hidden:
            actor = nn.tanh(nn.Dense(width, kernel_init=_orthogonal(np.sqrt(2)))(actor))
            critic = nn.tanh(
                nn.Dense(width, kernel_init=_orthogonal(np.sqrt(2)))(critic)
            )
        head = nn.Dense(self.num_actions, kernel_init=_orthogonal(0.01))(actor)
        value = nn.Dense(1, kernel_init=_orthogonal(1.0))(critic)[..., 0]
        log_std = self.param(
            "log_std",
            nn.initializers.zeros,
            (self.num_actions if self.continuous else 1,),
        )
        return PolicyOutput(head, log_std, value)


def _orthogonal(scale: float) -> nn.initializers.Initializer:
    """Flax's orthogonal initializer, one matrix at a time under `vmap`.

    Under `vmap` (over seeds, as PureJaxRL trains) each layer's QR is one
    batched LAPACK call, and jaxlib's CPU kernel (0.10.2) spreads the batch
    over XLA's intra-op thread pool and blocks until it is done. Layers whose
    QRs run at once can hold every pool thread, each waiting for work queued
    behind the others: `vmap(make_train(...))` over 2 seeds hung on 2 cores.
    A loop over the batch (`lax.map`) draws each seed's matrices as alone.
    """
    orthogonal = nn.initializers.orthogonal(scale)

    def init(key, shape, dtype=jnp.float32):
        @jax.custom_batching.custom_vmap
        def draw(key):
            return orthogonal(key, shape, dtype)

        @draw.def_vmap
        def _(axis_size, in_batched, keys):
            del axis_size, in_batched
            return jax.lax.map(draw, keys), True

        return draw(key)

    return init


def sample(key: jax.Array, out: PolicyOutput, continuous: bool) -> jax.Array:
    """Draws actions: ids [...] int32, or Gaussian [..., A] (the env clips them)."""
    if continuous:
        noise = jax.random.normal(key, out.actor.shape)
        return out.actor + jnp.exp(out.log_std) * noise
    return jax.random.categorical(key, out.actor)


def greedy(out: PolicyOutput, continuous: bool) -> jax.Array:
    """The most likely action: argmax id, or the Gaussian mean."""
    return out.actor if continuous else jnp.argmax(out.actor, axis=-1)


def log_prob(out: PolicyOutput, action: jax.Array, continuous: bool) -> jax.Array:
    """log pi(action | obs): categorical, or a diagonal Gaussian summed over dims."""
    if continuous:
        z = (action - out.actor) * jnp.exp(-out.log_std)
        per_dim = -0.5 * z**2 - out.log_std - 0.5 * math.log(2 * math.pi)
        return per_dim.sum(-1)
    log_p = jax.nn.log_softmax(out.actor)
    return jnp.take_along_axis(log_p, action[..., None], axis=-1)[..., 0]


def entropy(out: PolicyOutput, continuous: bool) -> jax.Array:
    """The policy's entropy per observation, shape [...] like `out.value`."""
    if continuous:
        per_dim = out.log_std + 0.5 * (1.0 + math.log(2 * math.pi))
        return jnp.broadcast_to(per_dim.sum(), out.value.shape)
    log_p = jax.nn.log_softmax(out.actor)
    return -(jnp.exp(log_p) * log_p).sum(-1)
