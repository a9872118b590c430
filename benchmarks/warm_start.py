"""What warm_start costs per vmapped step, with and without an episode ending.

    python benchmarks/warm_start.py          # ~1 min on 2 CPU cores

Times `jit(vmap(env.step))` over N `tiny` envs, keeping the LR (no episode
ends: budgets are long), with warm_start off and on, in one run; then the same
with one env stopping every step, so that it resets and pays for the warm-up.
Best of `--repeats` timings of `--steps` steps, each step a separate call.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp

import autotrain_jax as at


def seconds_per_step(
    warm_start: bool, num_envs: int, steps: int, repeats: int, stop_one: bool
):
    env, params = at.make_env(
        "tiny", warm_start=warm_start, max_steps_in_episode=10_000
    )
    reset = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))
    step = jax.jit(jax.vmap(env.step, in_axes=(0, 0, 0, None)))
    _, state = reset(jax.random.split(jax.random.key(0), num_envs), params)
    actions = jnp.broadcast_to(at.actions.keep(env.config), (num_envs,))
    if stop_one:
        actions = actions.at[0].set(at.actions.stop(env.config))
    keys = jax.random.split(jax.random.key(1), num_envs)
    jax.block_until_ready(step(keys, state, actions, params))  # compile
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            _, state, *_ = step(keys, state, actions, params)
        jax.block_until_ready(state)
        best = min(best, (time.perf_counter() - start) / steps)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--envs", type=int, default=16)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"tiny, N={args.envs}, best of {args.repeats} x {args.steps} steps")
    for stop_one in (False, True):
        off, on = (
            seconds_per_step(w, args.envs, args.steps, args.repeats, stop_one)
            for w in (False, True)
        )
        label = "one env resets every step" if stop_one else "no episode ends"
        print(
            f"{label}: warm_start off {off * 1e3:.1f} ms/step, "
            f"on {on * 1e3:.1f} ms/step, on/off {on / off:.2f}"
        )


if __name__ == "__main__":
    main()
