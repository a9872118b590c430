"""Env throughput against the bare-training ceiling, PyTorch, PPO and device count.

    python benchmarks/throughput.py --quick              # < 2 min on 2 CPU cores
    python benchmarks/throughput.py --out benchmarks/results-cpu.json
    autotrain-jax bench --quick                          # the same, installed

For each (N envs, T inner steps): env steps/s of `jit(vmap(env.step))` in a
`lax.scan` with uniformly random actions; two bare ceilings, the same inner training
(model, batch, optimizer, task, T, N) as a plain vmapped `lax.scan` with no
environment logic, without and with Thresholdout's scoring (the env is held to the
second: scoring is part of its step); compile time; XLA's memory estimate; state
bytes per env. Optionally the sequential PyTorch reference (`--torch`), PPO end to
end (`--ppo`), a Python step loop with and without donating the states
(`--donation`), and scaling over simulated host devices (`--devices 1,2,4`) or local
processes joined by jax.distributed (`--processes 1,2`, each process building and
stepping its share of the envs). Every ratio compares numbers measured in the same
run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

import jax
import jax.numpy as jnp

import autotrain_jax as at
from autotrain_jax import distributed, vector
from autotrain_jax.agents.ppo import PPOConfig, make_ppo
from autotrain_jax.experiments.provenance import machine
from autotrain_jax.models import make_model
from autotrain_jax.optimizers import InnerOptimizer
from autotrain_jax.sharding import (
    env_mesh,
    envs_from_local,
    local_rows,
    replicate,
)
from autotrain_jax.training import make_train_fn


def compile_program(fn, *args):
    """(the compiled program, compile seconds, XLA memory estimate bytes)."""
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - start
    memory = compiled.memory_analysis()
    memory_bytes = None
    if memory is not None:
        memory_bytes = memory.temp_size_in_bytes + memory.argument_size_in_bytes
    return compiled, compile_s, memory_bytes


def interleaved(runs: dict, repeats: int) -> dict[str, float]:
    """Median seconds of each run of `runs` ({name: (compiled, args)}): after a
    warm-up, `repeats` rounds that run each once in turn, so that the
    machine's drifts in speed (±10-15% between runs here) hit all alike and
    their ratios compare like with like."""
    for compiled, args in runs.values():
        jax.block_until_ready(compiled(*args))
    seconds = {name: [] for name in runs}
    for _ in range(repeats):
        for name, (compiled, args) in runs.items():
            start = time.perf_counter()
            jax.block_until_ready(compiled(*args))
            seconds[name].append(time.perf_counter() - start)
    return {name: statistics.median(s) for name, s in seconds.items()}


def timed(fn, *args, repeats: int):
    """(compile seconds, median run seconds, XLA memory estimate bytes)."""
    compiled, compile_s, memory = compile_program(fn, *args)
    return compile_s, interleaved({"": (compiled, args)}, repeats)[""], memory


def preset_env(preset: str, inner_steps: int, data_dir: str | None):
    """`preset` at T = `inner_steps`, recording 5 losses per step."""
    loss_every = max(1, inner_steps // 5)
    return at.make_env(preset, T=inner_steps, S=loss_every, data_dir=data_dir)


def env_rollout(
    env, num_envs: int, num_steps: int, actions: str = "random", grouped: bool = False
):
    """`actions`: `random` (uniform over the set: some env re-initialises or
    stops, and so draws fresh weights, on nearly every step) or `keep` (the LR
    kept: no env draws unless its budget ends). `grouped`: the batch stepped
    by `env.batch_groups` (`vector.batched`), from a state its reset made."""
    step = vector.batched(env, num_envs, grouped).step
    space = env.action_space()

    def choose(key):
        if actions == "keep":
            keep = at.actions.keep(env.config)
            return jnp.broadcast_to(keep, (num_envs, *jnp.shape(keep)))
        return jax.vmap(space.sample)(jax.random.split(key, num_envs))

    def run(state, key, params):
        def one(state, key):
            key_action, key_step = jax.random.split(key)
            actions = choose(key_action)
            _, state, reward, *_ = step(
                jax.random.split(key_step, num_envs), state, actions, params
            )
            return state, reward.mean()

        return jax.lax.scan(one, state, jax.random.split(key, num_steps))

    return run


def bare_rollout(env, num_envs: int, num_steps: int, score: bool = False):
    """The same inner training, vmapped and scanned, without the environment.

    With `score`, each step also scores the trained weights by the env's own
    evaluation (`Trainee.evaluate`: Thresholdout is part of the MDP)."""

    def train_and_score(key, net, opt_state, lr, task, params):
        key_train, key_score = jax.random.split(key)
        net, opt_state, losses = env.trainee.train(
            key_train, net, opt_state, lr, params.data, task
        )
        answer = jnp.float32(0)
        if score:
            answer = env.trainee.evaluate(key_score, net, task, params).score
        return net, opt_state, losses.mean() + answer

    step = jax.vmap(train_and_score, in_axes=(0, 0, 0, 0, 0, None))

    def run(net, opt_state, lr, task, key, params):
        def one(carry, key):
            net, opt_state = carry
            keys = jax.random.split(key, num_envs)
            net, opt_state, out = step(keys, net, opt_state, lr, task, params)
            return (net, opt_state), out.mean()

        return jax.lax.scan(one, (net, opt_state), jax.random.split(key, num_steps))

    return run


def inner_step_flops(env, state, params) -> float:
    """The floating-point operations XLA counts in one vmapped inner training step
    of the envs in `state` (forward, backward and optimizer update), compiled as
    a program without loops: XLA's cost analysis counts a loop's body once."""
    config = dataclasses.replace(env.config, inner_steps=1, loss_every=1)
    model = make_model(config, params.data.num_classes)
    train = make_train_fn(config, model, InnerOptimizer(config.optimizer))
    num_envs = state.lr.shape[0]
    keys = jax.random.split(jax.random.key(1), num_envs)
    step = jax.jit(jax.vmap(train, in_axes=(0, 0, 0, 0, None)))
    args = (keys, state.weights, state.opt_state, state.lr, params.data)
    cost = step.lower(*args).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return float(cost["flops"])


def matmul_gflops(size: int = 2048, repeats: int = 5) -> float:
    """The machine's practical fp32 rate: one jitted square matmul's GFLOP/s."""
    a = jax.random.normal(jax.random.key(0), (size, size), jnp.float32)
    _, seconds, _ = timed(jnp.matmul, a, a, repeats=repeats)
    return 2 * size**3 / seconds / 1e9


def bench_env(
    preset,
    num_envs,
    inner_steps,
    num_steps,
    repeats,
    data_dir,
    mesh=None,
    action_modes=("random",),
):
    """One row per action mode; the ceilings are timed once and shared, in
    turn with the env (`interleaved`)."""
    env, params = preset_env(preset, inner_steps, data_dir)
    keys = jax.random.split(jax.random.key(0), num_envs)
    rows = slice(None) if mesh is None else local_rows(num_envs, mesh)
    _, state = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(keys[rows], params)
    if mesh is not None:  # each process builds only its own rows
        state = envs_from_local(state, mesh, num_envs)
        params = replicate(params, mesh)
    programs, compiles = {}, {}  # name: (compiled, args); (compile s, memory)
    for actions in action_modes:
        env_args = (state, jax.random.key(1), params)
        rollout = env_rollout(env, num_envs, num_steps, actions)
        compiled, *compiles[actions] = compile_program(rollout, *env_args)
        programs[actions] = (compiled, env_args)
    if mesh is None:
        lr = jnp.full((num_envs,), params.initial_lr, jnp.float32)
        args = (state.weights, state.opt_state, lr, state.task, jax.random.key(1))
        for name, score in (("ceiling", False), ("scored_ceiling", True)):
            bare = bare_rollout(env, num_envs, num_steps, score)
            programs[name] = (compile_program(bare, *args, params)[0], (*args, params))
    seconds = interleaved(programs, repeats)  # env and ceilings in turn
    ceilings = {}
    if mesh is None:
        flops = inner_step_flops(env, state, params) * inner_steps * num_steps
        for name in ("ceiling", "scored_ceiling"):
            ceilings[name] = num_envs * num_steps / seconds[name]
            ceilings[f"{name}_gflops"] = flops / seconds[name] / 1e9
    rows = []
    for actions in action_modes:
        compile_s, memory = compiles[actions]
        rate = num_envs * num_steps / seconds[actions]
        batch = env.config.batch_size
        row = {
            "preset": preset,
            "num_envs": num_envs,
            "inner_steps": inner_steps,
            "actions": actions,
            "env_steps_per_s": rate,
            "inner_samples_per_s": rate * inner_steps * batch,
            "compile_s": compile_s,
            "xla_memory_bytes": memory,
            "state_bytes_per_env": sum(x.nbytes for x in jax.tree.leaves(state))
            / num_envs,
        }
        if memory is not None:  # XLA's estimate grows linearly in N
            row["largest_n_in_24_gib"] = int(24 * 2**30 // (memory / num_envs))
        if ceilings:
            row["ceiling_steps_per_s"] = ceilings["ceiling"]
            row["env_over_ceiling"] = rate / ceilings["ceiling"]
            row["ceiling_gflops"] = ceilings["ceiling_gflops"]
            row["scored_ceiling_steps_per_s"] = ceilings["scored_ceiling"]
            row["env_over_scored_ceiling"] = rate / ceilings["scored_ceiling"]
        rows.append(row)
    return rows


def bench_ppo(preset, num_envs, inner_steps, updates, repeats, data_dir):
    """Env steps/s while PPO trains (rollouts + learning) vs env-only steps/s,
    timed in turn (`interleaved`)."""
    env, params = preset_env(preset, inner_steps, data_dir)
    config = PPOConfig(num_envs=num_envs, num_steps=8, num_updates=updates)
    ppo = make_ppo(config, env)
    runner = jax.jit(ppo.init)(jax.random.key(0), params)
    train = lambda r, p: ppo.run_updates(r, p, updates)  # noqa: E731
    compiled, compile_s, _ = compile_program(train, runner, params)
    keys = jax.random.split(jax.random.key(0), num_envs)
    _, state = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(keys, params)
    env_args = (state, jax.random.key(1), params)
    rollout = env_rollout(env, num_envs, config.num_steps * updates)
    programs = {
        "ppo": (compiled, (runner, params)),
        "env": (compile_program(rollout, *env_args)[0], env_args),
    }
    seconds = interleaved(programs, repeats)
    steps = num_envs * config.num_steps * updates
    ppo_rate, env_rate = steps / seconds["ppo"], steps / seconds["env"]
    return {
        "num_envs": num_envs,
        "inner_steps": inner_steps,
        "ppo_env_steps_per_s": ppo_rate,
        "env_only_steps_per_s": env_rate,
        "ppo_over_env": ppo_rate / env_rate,
        "ppo_compile_s": compile_s,
    }


def bench_donation(preset, num_envs, inner_steps, num_steps, repeats, data_dir):
    """Env steps/s of a Python loop over one jitted vmapped step, the way the
    README's example and the Gymnasium wrapper step, without and with donating
    the states (`donate_argnums=1`). A `lax.scan` rollout needs no donation:
    XLA updates a loop's carry in place."""
    env, params = preset_env(preset, inner_steps, data_dir)
    keys = jax.random.split(jax.random.key(0), num_envs)
    _, state = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(keys, params)
    step_keys = jax.random.split(jax.random.key(1), (num_steps, num_envs))
    action_keys = jax.random.split(jax.random.key(2), (num_steps, num_envs))
    actions = jax.vmap(jax.vmap(env.action_space().sample))(action_keys)
    row = {"preset": preset, "num_envs": num_envs, "inner_steps": inner_steps}
    for donate in (False, True):
        step = jax.jit(
            jax.vmap(env.step, in_axes=(0, 0, 0, None)),
            donate_argnums=1 if donate else (),
        )
        best = float("inf")
        for _ in range(repeats + 1):  # the first compiles
            current = jax.tree.map(jnp.copy, state)  # donation consumes it
            jax.block_until_ready(current)
            start = time.perf_counter()
            for t in range(num_steps):
                _, current, *_ = step(step_keys[t], current, actions[t], params)
            jax.block_until_ready(current)
            best = min(best, time.perf_counter() - start)
        name = "donated" if donate else "copied"
        row[f"{name}_env_steps_per_s"] = num_envs * num_steps / best
    row["donated_over_copied"] = (
        row["donated_env_steps_per_s"] / row["copied_env_steps_per_s"]
    )
    return row


def bench_scaling(preset, num_envs, inner_steps, num_steps, data_dir, kind, counts):
    """Env steps/s of one global batch per count of simulated devices (`kind`
    "devices") or of local processes ("processes", one device each): this
    module's `--worker`, run in subprocesses (XLA_FLAGS and jax.distributed are per
    process)."""
    results = []
    for count in counts:
        command = [sys.executable, "-m", __name__, "--worker", "--preset", preset]
        command += ["--envs", str(num_envs), "--inner-steps", str(inner_steps)]
        command += ["--steps", str(num_steps)]
        command += ["--data-dir", data_dir] if data_dir else []
        if kind == "devices":
            flags = f"--xla_force_host_platform_device_count={count}"
            flags = f"{os.environ.get('XLA_FLAGS', '')} {flags}".strip()
            environs = [{**os.environ, "XLA_FLAGS": flags}]
        else:
            environs = [
                os.environ | extra for extra in distributed.local_environments(count)
            ]
        workers = [
            subprocess.Popen(command, env=e, stdout=subprocess.PIPE, text=True)
            for e in environs
        ]
        outputs = [w.communicate()[0] for w in workers]
        if any(w.returncode for w in workers):
            raise RuntimeError(f"a {kind} worker failed: {command}")
        results.append(json.loads(outputs[0].strip().splitlines()[-1]))
    base = results[0]["env_steps_per_s"]
    for result in results:
        result["speedup"] = result["env_steps_per_s"] / base
    return results


def markdown(report: dict) -> str:
    lines = [
        f"Hardware: {report['hardware']}; jax {report['jax']}; {report['date']}",
        f"Command: `{report['command']}`",
        *([f"Timing: {report['timing']}."] if "timing" in report else []),
        f"A 2048² fp32 matmul (jnp.matmul) runs at {report['matmul_gflops']:.1f} "
        "GFLOP/s here: the machine's practical peak, against which the ceiling's "
        "GFLOP/s (XLA's count of one training step's flops) compare.",
        "",
        "| preset | N | T | actions | env steps/s | inner samples/s | "
        "ceiling steps/s | env/ceiling | scored ceiling steps/s | "
        "env/scored ceiling | ceiling GFLOP/s | compile s | "
        "XLA memory MB | state KB/env | largest N in 24 GiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["env"]:
        memory = r["xla_memory_bytes"]
        lines.append(
            f"| {r['preset']} | {r['num_envs']} | {r['inner_steps']} | "
            f"{r['actions']} | {r['env_steps_per_s']:.1f} | "
            f"{r['inner_samples_per_s']:.3g} | "
            f"{r['ceiling_steps_per_s']:.1f} | {r['env_over_ceiling']:.3f} | "
            f"{r['scored_ceiling_steps_per_s']:.1f} | "
            f"{r['env_over_scored_ceiling']:.3f} | "
            f"{r['ceiling_gflops']:.1f} | {r['compile_s']:.1f} | "
            f"{'-' if memory is None else f'{memory / 2**20:.0f}'} | "
            f"{r['state_bytes_per_env'] / 1024:.0f} | "
            f"{r.get('largest_n_in_24_gib', '-')} |"
        )
    if report.get("torch"):
        t = report["torch"]
        lines += [
            "",
            f"PyTorch sequential reference (N=1 at a time, T={t['inner_steps']}): "
            f"{t['env_steps_per_s']:.2f} env steps/s; JAX at N={t['jax_num_envs']}: "
            f"{t['jax_env_steps_per_s']:.2f} env steps/s, "
            f"ratio {t['jax_over_torch']:.2f}.",
        ]
    if report.get("ppo"):
        p = report["ppo"]
        lines += [
            "",
            f"PPO end to end (N={p['num_envs']}, T={p['inner_steps']}): "
            f"{p['ppo_env_steps_per_s']:.1f} env steps/s vs env-only "
            f"{p['env_only_steps_per_s']:.1f}: ratio {p['ppo_over_env']:.3f}.",
        ]
    if report.get("donation"):
        lines += [
            "",
            "A Python loop over `jit(vmap(env.step))`, the states copied or donated:",
            "",
            "| N | T | copied env steps/s | donated env steps/s | donated / copied |",
            "|---|---|---|---|---|",
        ]
        for d in report["donation"]:
            lines.append(
                f"| {d['num_envs']} | {d['inner_steps']} | "
                f"{d['copied_env_steps_per_s']:.1f} | "
                f"{d['donated_env_steps_per_s']:.1f} | "
                f"{d['donated_over_copied']:.3f} |"
            )
    for kind in ("devices", "processes"):
        if not report.get(kind):
            continue
        r = report[kind][0]
        lines += [
            "",
            f"Scaling over {kind} (N={r['num_envs']}, T={r['inner_steps']}):",
            "",
            "| processes | devices | env steps/s | speedup |",
            "|---|---|---|---|",
        ]
        for d in report[kind]:
            lines.append(
                f"| {d['processes']} | {d['devices']} | "
                f"{d['env_steps_per_s']:.1f} | {d['speedup']:.2f} |"
            )
    return "\n".join(lines) + "\n"


def parse_args(argv=None, prog=None):
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="mnist-mlp")
    parser.add_argument("--envs", default="1,8,64,256", help="comma-separated N")
    parser.add_argument("--inner-steps", default="10,50", help="comma-separated T")
    parser.add_argument(
        "--actions",
        default="random",
        help="comma-separated: random (a re-init or stop nearly every step), keep",
    )
    parser.add_argument("--steps", type=int, default=4, help="env steps per timing")
    parser.add_argument(
        "--repeats", type=int, default=5, help="timed rounds (medians reported)"
    )
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--torch", action="store_true", help="PyTorch reference")
    parser.add_argument("--ppo", action="store_true", help="PPO end to end")
    parser.add_argument(
        "--donation", action="store_true", help="a Python step loop, donated or not"
    )
    parser.add_argument("--devices", default="", help="e.g. 1,2,4 (simulated on CPU)")
    parser.add_argument(
        "--processes", default="", help="e.g. 1,2 (local, joined by jax.distributed)"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, < 2 min")
    parser.add_argument("--out", default=None, help="JSON path; .md written beside")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None, prog=None):
    args = parse_args(argv, prog)
    if args.worker:
        mesh = env_mesh()
        result = bench_env(
            args.preset,
            int(args.envs),
            int(args.inner_steps),
            args.steps,
            args.repeats,
            args.data_dir,
            mesh,
        )[0]
        processes = {"processes": jax.process_count(), "devices": jax.device_count()}
        print(json.dumps(processes | result))
        return
    if args.quick:
        args.envs, args.inner_steps, args.steps, args.repeats = "1,8", "10", 2, 2
    envs = [int(n) for n in args.envs.split(",")]
    modes = args.actions.split(",")
    if not set(modes) <= {"random", "keep"}:
        raise SystemExit(f"--actions takes random and/or keep, got {args.actions!r}")
    inner = [int(t) for t in args.inner_steps.split(",")]
    given = sys.argv[1:] if argv is None else argv
    report = {
        "hardware": machine(),
        "jax": jax.__version__,
        "date": time.strftime("%Y-%m-%d"),
        "command": "python " + " ".join(["throughput.py", *given]),
        "timing": f"median of {args.repeats} rounds of {args.steps} env steps, the "
        "env and its ceilings (and PPO and the env alone) timed in turn in each",
        "env": [],
    }
    for t in inner:
        for n in envs:
            rows = bench_env(
                args.preset, n, t, args.steps, args.repeats, args.data_dir, None, modes
            )
            report["env"] += rows
            for row in rows:
                print(json.dumps(row), flush=True)
    if args.torch:
        from autotrain_jax.experiments.torch_reference import bench_torch

        t = max(inner)
        jax_result = [
            r
            for r in report["env"]
            if r["inner_steps"] == t and r["actions"] == modes[0]
        ][-1]
        torch_rate = bench_torch(t, steps=args.steps, data_dir=args.data_dir)
        report["torch"] = {
            "inner_steps": t,
            "env_steps_per_s": torch_rate,
            "jax_num_envs": jax_result["num_envs"],
            "jax_env_steps_per_s": jax_result["env_steps_per_s"],
            "jax_over_torch": jax_result["env_steps_per_s"] / torch_rate,
        }
    if args.ppo:
        report["ppo"] = bench_ppo(
            args.preset, max(envs), max(inner), 2, args.repeats, args.data_dir
        )
    if args.donation:
        report["donation"] = [
            bench_donation(args.preset, n, t, args.steps, args.repeats, args.data_dir)
            for t in inner
            for n in envs
        ]
        for row in report["donation"]:
            print(json.dumps(row), flush=True)
    for kind in ("devices", "processes"):
        if getattr(args, kind):
            counts = [int(c) for c in getattr(args, kind).split(",")]
            sizes = (max(envs), max(inner), args.steps)
            report[kind] = bench_scaling(
                args.preset, *sizes, args.data_dir, kind, counts
            )
    report["matmul_gflops"] = matmul_gflops()
    table = markdown(report)
    print(table)
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(report, indent=2))
        pathlib.Path(args.out).with_suffix(".md").write_text(table)


if __name__ == "__main__":
    main()
