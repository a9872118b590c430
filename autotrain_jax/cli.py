"""The `autotrain-jax` command line.

    autotrain-jax envs                            # the presets and their settings
    autotrain-jax train tiny --num-updates 50 --ppo lr=1e-3 --env initial_lr=0.1
    autotrain-jax evaluate meta-tiny-v0 --env initial_lr=1e-4 --seeds 8
    autotrain-jax compare --suite v2 --data-dir DATA   # controllers vs practitioners
    autotrain-jax bench --presets tiny                      # benchmarks/throughput.py

`train` takes every flag of the example scripts (`autotrain-jax train PRESET
--help`), with any PPOConfig field as `--ppo KEY=VALUE` and any `make_env`
setting as `--env KEY=VALUE`. `compare` runs the comparison protocol on a
committed suite (`autotrain_jax.experiments.compare`); `bench` runs
benchmarks/throughput.py of a source checkout, with its own flags.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import runpy
import sys

import jax
import numpy as np

from autotrain_jax import compile_cache
from autotrain_jax.presets import PRESETS

BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = {"bench": "throughput.py"}


def envs() -> str:
    """The presets, each with its description and settings, as text."""
    lines = []
    for name, preset in PRESETS.items():
        lines.append(f"{name}: {preset.description}")
        settings = {**preset.config, **preset.params, "dataset": preset.dataset}
        settings |= {"train_size": preset.train_size}
        settings |= {"holdout_size": preset.holdout_size}
        for key, value in settings.items():
            lines.append(f"    {key} = {value!r}")
    return "\n".join(lines)


def evaluate(controller: str, seeds: int, overrides: dict, data_dir=None) -> dict:
    """A controller (a shipped name or a run folder) against the constant LR it
    starts from, on `seeds` paired seeds of the env it was trained for with
    `overrides`. Returns per-policy test accuracy and inner steps per seed."""
    from autotrain_jax import controllers
    from autotrain_jax.evaluation import evaluate_many, keep_policy

    loaded = controllers.load(controller)
    env, params = loaded.make_env(data_dir=data_dir, **overrides)
    policies = {"controller": loaded.policy, "constant LR": keep_policy(env)}
    keys = jax.random.split(jax.random.key(2024), seeds)
    results = evaluate_many(env, params, policies, keys)
    return {
        name: {k: r[k].tolist() for k in ("test_accuracy", "inner_steps")}
        for name, r in results.items()
    }


def _evaluate_report(results: dict) -> str:
    from autotrain_jax.evaluation import summarize

    lines = [
        "| policy | test accuracy (mean ± 95% CI) | inner steps |",
        "|---|---|---|",
    ]
    for name, r in results.items():
        s = summarize(r["test_accuracy"])
        steps = np.mean(r["inner_steps"])
        lines.append(f"| {name} | {s['mean']:.4f} ± {s['ci95']:.4f} | {steps:.0f} |")
    diff = np.subtract(
        results["controller"]["test_accuracy"], results["constant LR"]["test_accuracy"]
    )
    s = summarize(diff)
    lines.append(
        f"\ncontroller - constant (paired): {s['mean']:+.4f} ± {s['ci95']:.4f}"
    )
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    from autotrain_jax.experiments.train import parse_setting

    parser = argparse.ArgumentParser(
        prog="autotrain-jax",
        description="Learned controllers that steer neural-network training.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("envs", help="list the presets and their settings")
    train = commands.add_parser(
        "train",
        help="train a PPO controller (every flag: autotrain-jax train PRESET --help)",
        add_help=False,
    )
    train.add_argument("preset", choices=sorted(PRESETS))
    ev = commands.add_parser("evaluate", help="a controller vs the constant LR")
    ev.add_argument("controller", help="a shipped controller's name or a run folder")
    ev.add_argument("--seeds", type=int, default=8)
    ev.add_argument("--data-dir", default=None)
    ev.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        type=parse_setting,
        help="a make_env override on top of the controller's settings (repeatable)",
    )
    ev.add_argument("--json", action="store_true", help="print per-seed JSON")
    ev.add_argument(
        "--no-compile-cache",
        action="store_true",
        help="do not use JAX's persistent compilation cache",
    )
    commands.add_parser(
        "compare",
        help="controllers vs what practitioners run, on a committed suite "
        "(its flags: autotrain-jax compare --help)",
        add_help=False,
    )
    for name, script in SCRIPTS.items():
        commands.add_parser(
            name,
            help=f"run benchmarks/{script} (its flags: autotrain-jax {name} --help)",
            add_help=False,
        )
    return parser


def main() -> None:
    """Entry point of the `autotrain-jax` console script (`run(sys.argv[1:])`;
    its return value is for Python callers, not the exit status)."""
    run(sys.argv[1:])


def run(argv: list[str]) -> dict | None:
    """Runs the command line `argv`; returns `train`'s evaluation summary and
    `evaluate`'s per-seed results."""
    argv = list(argv)
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    if args.command == "envs":
        print(envs())
    elif args.command == "train":
        from autotrain_jax.experiments import train

        return train.main(rest, preset=args.preset)
    elif args.command == "evaluate":
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        if args.seeds < 2:
            parser.error(
                f"--seeds must be >= 2 (a confidence interval), got {args.seeds}"
            )
        compile_cache.enable(args.no_compile_cache)
        results = evaluate(args.controller, args.seeds, dict(args.env), args.data_dir)
        print(json.dumps(results) if args.json else _evaluate_report(results))
        return results
    elif args.command == "compare":
        from autotrain_jax.experiments import compare

        return compare.main(rest, prog="autotrain-jax compare")
    else:
        script = BENCHMARKS / SCRIPTS[args.command]
        if not script.exists():
            raise SystemExit(
                f"{args.command} runs {script}, which only a source checkout has "
                "(git clone, then pip install -e .)"
            )
        sys.argv = [str(script), *rest]
        runpy.run_path(str(script), run_name="__main__")


if __name__ == "__main__":
    main()
