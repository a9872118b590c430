"""Uniform floats from a counter hash: the bulk randomness of fresh weights.

A fresh draw of weights is millions of uniforms per vmapped step, and
`jax.random`'s threefry costs about 11 ns per number on a 2-core CPU (rbg 8 ns):
it was the largest fixed cost of an env step with re-inits or resets. Here each
call draws two 32-bit words from `jax.random` (so keys keep their meaning:
split keys give independent streams) and hashes a counter with them, about
0.5 ns per number (`python benchmarks/fast_random.py`). The hash is
`lowbias32` (C. Wellons' integer-hash search, 2018), applied twice, once per
seed word: a bijection of the counter for a fixed seed, so no value repeats
within one draw. Its quality is that of a good hash, not of a cryptographic
generator: ample for initial weights, not for anything adversarial.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def mix(x: jax.Array) -> jax.Array:
    """lowbias32: a 32-bit integer hash with low bias (two multiplies)."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def bits(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """uint32 bits of `shape`, a hash of each element's index seeded by `key`."""
    size = math.prod(shape)
    if size >= 2**32:
        raise ValueError(f"shape {shape} has {size} elements; at most 2**32 - 1")
    seed = jax.random.bits(key, (2,), jnp.uint32)
    counter = jax.lax.iota(jnp.uint32, size).reshape(shape)
    return hash_counter(counter, seed)


def hash_counter(counter: jax.Array, seed: jax.Array) -> jax.Array:
    """uint32 hash of each `counter` element under a (2,) uint32 `seed`: for a
    fixed seed a bijection of the counter."""
    return mix(mix(counter ^ seed[0]) ^ seed[1])


def uniform(
    key: jax.Array,
    shape: tuple[int, ...],
    dtype=jnp.float32,
    minval: float = 0.0,
    maxval: float = 1.0,
) -> jax.Array:
    """Floats uniform in [minval, maxval), 23 random mantissa bits each."""
    one_to_two = jax.lax.bitcast_convert_type(
        (bits(key, shape) >> 9) | jnp.uint32(0x3F800000), jnp.float32
    )
    return (minval + (maxval - minval) * (one_to_two - 1.0)).astype(dtype)
