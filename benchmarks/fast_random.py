"""Nanoseconds per uniform float: `fast_random` against `jax.random`'s generators.

    python benchmarks/fast_random.py        # ~20 s on 2 CPU cores

Draws what one fresh draw of 256 `tiny` envs' weights needs (256 x 25,450
floats), vmapped over per-env keys; best of 5 timings of 5 calls each.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp

from autotrain_jax import fast_random

NUM_ENVS, PER_ENV = 256, 25_450


def nanoseconds_per_number(uniform, impl: str) -> float:
    keys = jax.random.split(jax.random.key(0, impl=impl), NUM_ENVS)
    draw = jax.jit(jax.vmap(lambda key: uniform(key, (PER_ENV,), jnp.float32)))
    jax.block_until_ready(draw(keys))
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(5):
            out = draw(keys)
        jax.block_until_ready(out)
        best = min(best, (time.perf_counter() - start) / 5)
    return best / (NUM_ENVS * PER_ENV) * 1e9


def main():
    rows = [
        (f"jax.random.uniform, {impl}", jax.random.uniform, impl)
        for impl in ("threefry2x32", "rbg")
    ]
    rows.append(
        ("fast_random.uniform (threefry keys)", fast_random.uniform, "threefry2x32")
    )
    print(f"{jax.default_backend()}, {NUM_ENVS} x {PER_ENV} floats per call")
    for label, uniform, impl in rows:
        print(f"{label}: {nanoseconds_per_number(uniform, impl):.2f} ns/number")


if __name__ == "__main__":
    main()
