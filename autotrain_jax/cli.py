"""The `autotrain-jax` command line.

    autotrain-jax envs                            # the presets and their settings
    autotrain-jax train tiny --num-updates 50 --ppo lr=1e-3 --env initial_lr=0.1
    autotrain-jax evaluate meta-mix-v4-nostop --lrs 1e-4,1e-2,1 --seeds 8
    autotrain-jax compare --suite v2 --data-dir DATA   # controllers vs practitioners
    autotrain-jax bench --preset tiny --quick     # env steps/s against the ceilings

`train` takes every flag of the example scripts (`autotrain-jax train PRESET
--help`), with any PPOConfig field as `--ppo KEY=VALUE` and any `make_env`
setting as `--env KEY=VALUE`. `compare` runs the comparison protocol on a
committed suite (`autotrain_jax.experiments.compare`); `bench` measures
throughput (`autotrain_jax.experiments.throughput`), with its own flags.
"""

from __future__ import annotations

import argparse
import shlex
import sys

import jax

from autotrain_jax import compile_cache
from autotrain_jax.presets import PRESETS


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


def evaluate(
    names: list[str],
    seeds: int,
    overrides: dict,
    data_dir=None,
    lrs=None,
    rows=None,
    update: int | None = None,
) -> dict:
    """Controllers (shipped names or run folders; with `update`, each run's
    checkpoint after that many updates) on the task distribution the first
    was trained on, with `overrides`, from each initial LR of `lrs`, on `seeds`
    paired seeds, against the untuned constant and the `rows` opponents: the
    main example's evaluation (`protocol.from_initial_lrs`, whose defaults
    stand in for None). Returns {"cells", "tuned_lr"}."""
    from autotrain_jax import controllers
    from autotrain_jax.experiments import protocol, train

    if len(set(names)) != len(names):
        raise ValueError(f"controller names must be distinct, got {names}")
    trained = {
        name: controllers.load(name)
        if update is None
        else train.checkpoint_controller(name, update)
        for name in names
    }
    options = {"initial_lrs": lrs, "rows": rows}
    return protocol.from_initial_lrs(
        trained,
        jax.random.split(jax.random.key(2024), seeds),
        overrides=overrides,
        data_dir=data_dir,
        **{k: v for k, v in options.items() if v is not None},
    )


def _parser() -> argparse.ArgumentParser:
    from autotrain_jax.experiments.train import parse_lrs, parse_setting

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
    ev = commands.add_parser(
        "evaluate",
        help="controllers vs the untuned and tuned constant and cocob, from "
        "several initial LRs (the main example's table)",
    )
    ev.add_argument(
        "controller",
        nargs="+",
        help="shipped controllers' names or run folders; the first one's "
        "training distribution is the task",
    )
    ev.add_argument("--seeds", type=int, default=8)
    ev.add_argument(
        "--update",
        type=int,
        default=None,
        help="with a run folder: its checkpoint after this many updates",
    )
    ev.add_argument("--lrs", type=parse_lrs, default=None, help="initial LRs (a,b,...)")
    ev.add_argument(
        "--rows",
        type=lambda text: tuple(text.split(",")),
        default=None,
        help="opponents beside the untuned constant (a,b,...; "
        "default: tuned constant,cocob)",
    )
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
    commands.add_parser(
        "bench",
        help="env throughput against the bare-training ceilings "
        "(its flags: autotrain-jax bench --help)",
        add_help=False,
    )
    return parser


def main() -> None:
    """Entry point of the `autotrain-jax` console script (`run(sys.argv[1:])`;
    its return value is for Python callers, not the exit status)."""
    run(sys.argv[1:])


def run(argv: list[str]) -> dict | None:
    """Runs the command line `argv`; returns `train`'s evaluation summary and
    `evaluate`'s per-seed results, with their provenance (date, machine, command)."""
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
        from autotrain_jax.experiments import provenance, report

        compile_cache.enable(args.no_compile_cache)
        results = evaluate(
            args.controller,
            args.seeds,
            dict(args.env),
            args.data_dir,
            lrs=args.lrs,
            rows=args.rows,
            update=args.update,
        )
        results["provenance"] = provenance.stamp() | {
            "command": shlex.join(["autotrain-jax", *argv])
        }
        print(report.to_json(results) if args.json else report.task_table(results))
        return results
    elif args.command == "compare":
        from autotrain_jax.experiments import compare

        return compare.main(rest, prog="autotrain-jax compare")
    else:
        from autotrain_jax.experiments import throughput

        return throughput.main(rest, prog="autotrain-jax bench")


if __name__ == "__main__":
    main()
