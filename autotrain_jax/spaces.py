"""Observation and action spaces in the gymnax style."""

from __future__ import annotations

import jax
import jax.numpy as jnp


class Discrete:
    """Integer actions in [0, n)."""

    def __init__(self, num_categories: int):
        self.n = num_categories
        self.shape: tuple[int, ...] = ()
        self.dtype = jnp.int32

    def sample(self, key: jax.Array) -> jax.Array:
        return jax.random.randint(key, self.shape, 0, self.n, self.dtype)

    def contains(self, x: jax.Array) -> jax.Array:
        return jnp.logical_and(x >= 0, x < self.n)


class Box:
    """Arrays of `shape` with every element in [low, high]."""

    def __init__(
        self, low: float, high: float, shape: tuple[int, ...], dtype=jnp.float32
    ):
        self.low, self.high, self.shape, self.dtype = low, high, shape, dtype

    def sample(self, key: jax.Array) -> jax.Array:
        return jax.random.uniform(key, self.shape, self.dtype, self.low, self.high)

    def contains(self, x: jax.Array) -> jax.Array:
        return jnp.all(jnp.logical_and(x >= self.low, x <= self.high))
