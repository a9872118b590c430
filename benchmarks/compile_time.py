"""Where the env step's compile time goes: the vmapped step, its pieces alone,
and the step with one piece replaced by a stub, or its keys by a cheaper PRNG.

    python benchmarks/compile_time.py            # ~2 min on 2 CPU cores
    python benchmarks/compile_time.py --out benchmarks/compile-time.json  # + .md

Each figure is the median over `--repeats` fresh compiles (`jax.clear_caches`
between them; JAX's persistent cache is off for this script) of
`jit(...).lower(...).compile()` for N=8 envs. The stubs show what a piece costs
inside the whole program, where XLA may share or fuse work; the pieces alone
include a fixed cost of every compile (about 0.3 s for a trivial program).
The last row keys the same step with a counter-hash PRNG (`HASH_PRNG`, below)
instead of threefry: what the step's PRNG calls cost in its compile.
"""

from __future__ import annotations

import argparse
import collections
import json
import pathlib
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax._src import core
from jax.extend import random as jex_random

import autotrain_jax as at
from autotrain_jax.experiments.provenance import machine
from autotrain_jax.fast_random import mix
from autotrain_jax.trainee import Evaluation


def _hash_bits(key, bit_width, shape):
    counter = jax.lax.iota(jnp.uint32, int(np.prod(shape))).reshape(shape)
    low = mix(mix(counter ^ key[0]) + key[1])
    if bit_width == 64:
        high = mix(low ^ key[0])
        return (high.astype(jnp.uint64) << 32) | low.astype(jnp.uint64)
    return low.astype(jnp.dtype(f"uint{bit_width}"))


# A PRNG of two lowbias32 rounds per number (`fast_random.mix`) for each of
# seed, split, fold_in and bits: a measuring stub for what threefry's rounds
# cost the compile, not a generator the env uses.
HASH_PRNG = jex_random.define_prng_impl(
    key_shape=(2,),
    seed=lambda seed: mix(
        jnp.asarray(seed).astype(jnp.uint32) ^ jnp.array([0, 0x9E3779B9], jnp.uint32)
    ),
    split=lambda key, shape: _hash_bits(key[::-1], 32, (*shape, 2)),
    random_bits=_hash_bits,
    fold_in=lambda key, data: mix(key ^ mix(jnp.asarray(data).astype(jnp.uint32))),
    name="counter_hash",
)


def compile_seconds(fn, *args, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        jax.clear_caches()
        start = time.perf_counter()
        jax.jit(fn).lower(*args).compile()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def random_primitives(fn, *args) -> dict[str, int]:
    """How many PRNG primitives the traced program holds (each one expands to
    its own threefry rounds in the HLO)."""
    counts = collections.Counter()

    def walk(jaxpr):
        for eqn in jaxpr.eqns:
            counts[eqn.primitive.name] += 1
            for sub in core.jaxprs_in_params(eqn.params):
                walk(sub)

    walk(jax.make_jaxpr(fn)(*args).jaxpr)
    names = ("random_bits", "random_split", "random_fold_in", "erf_inv")
    return {name: counts[name] for name in names}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=None, help="JSON path; .md written beside")
    args = parser.parse_args(argv)

    jax.config.update("jax_enable_compilation_cache", False)

    def build(impl=None):
        env, params = at.make_env(args.preset)
        keys = jax.random.split(jax.random.key(0, impl=impl), 8)
        _, state = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(keys, params)
        actions = jax.vmap(env.action_space().sample)(keys)
        return env, params, keys, state, actions

    env, params, keys, state, actions = build()
    step = jax.vmap(env.step, in_axes=(0, 0, 0, None))
    timed = {}

    def measure(name, fn, *fn_args):
        timed[name] = compile_seconds(fn, *fn_args, repeats=args.repeats)
        print(f"{name}: {timed[name]:.2f} s", flush=True)

    measure("step (auto-reset)", step, keys, state, actions, params)
    measure(
        "step_env (no reset)",
        jax.vmap(env.step_env, in_axes=(0, 0, 0, None)),
        keys,
        state,
        actions,
        params,
    )
    measure("reset", jax.vmap(env.reset, in_axes=(0, None)), keys, params)
    train = jax.vmap(
        lambda k, s, p: env.trainee.train(
            k, s.weights, s.opt_state, s.lr, p.data, s.task
        ),
        in_axes=(0, 0, None),
    )
    measure("inner training alone", train, keys, state, params)
    evaluate = jax.vmap(
        lambda k, s, p: env.trainee.evaluate(k, s.weights, s.task, p),
        in_axes=(0, 0, None),
    )
    measure("one Thresholdout evaluation alone", evaluate, keys, state, params)

    stubs = {
        "evaluations stubbed": lambda env: setattr(
            env.trainee,
            "evaluate",
            lambda k, net, task, p: Evaluation(
                *(jax.tree.leaves(net)[0].sum() * 0 + 0.5,) * 3
            ),
        ),
        "inner training stubbed": lambda env: setattr(
            env.trainee,
            "train",
            lambda k, net, opt, lr, data, task=None, size=None: (
                jax.tree.map(lambda w: w * lr, net),
                opt,
                jnp.zeros(env.config.num_losses) + lr,
            ),
        ),
    }
    for name, stub in stubs.items():
        env, params, keys, state, actions = build()
        stub(env)
        step = jax.vmap(env.step, in_axes=(0, 0, 0, None))
        measure(f"step, {name}", step, keys, state, actions, params)
    env, params, keys, state, actions = build(HASH_PRNG)
    step = jax.vmap(env.step, in_axes=(0, 0, 0, None))
    measure("step, keys of a counter-hash PRNG", step, keys, state, actions, params)
    env, params, keys, state, actions = build()
    step = jax.vmap(env.step, in_axes=(0, 0, 0, None))
    report = {
        "hardware": machine(),
        "jax": jax.__version__,
        "date": time.strftime("%Y-%m-%d"),
        "command": "python " + " ".join([pathlib.Path(__file__).name, *sys.argv[1:]]),
        "preset": args.preset,
        "repeats": args.repeats,
        "compile_s": timed,
        "random_primitives": random_primitives(step, keys, state, actions, params),
    }
    table = markdown(report)
    print(table)
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(report, indent=2))
        pathlib.Path(args.out).with_suffix(".md").write_text(table)


def markdown(report: dict) -> str:
    primitives = ", ".join(f"{n} {k}" for k, n in report["random_primitives"].items())
    lines = [
        f"Hardware: {report['hardware']}; jax {report['jax']}; {report['date']}",
        f"Command: `{report['command']}` (`{report['preset']}`, N=8, median of "
        f"{report['repeats']} fresh compiles)",
        "",
        "| program | compile s |",
        "|---|---|",
        *(f"| {name} | {s:.2f} |" for name, s in report["compile_s"].items()),
        "",
        f"PRNG primitives in the step: {primitives}.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
