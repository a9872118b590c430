"""Controllers on the first one's own training distribution, paired.

    python benchmarks/own_distribution.py --controller runs/meta-mix \
        --controller runs/meta-mix-s1 --out benchmarks/own-distribution.json

Each controller, without its stop action, runs the same episodes (a fresh
task draw per seed, the first controller's augmentations included); the table
gives mean holdout accuracy and the paired difference to the first. It reads
no test split and no held-out task, so it may choose among controllers (e.g.
PPO seeds of one recipe) before any held-out number exists.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

import jax
import numpy as np

from autotrain_jax import controllers
from autotrain_jax.evaluation import evaluate_many, summarize
from autotrain_jax.experiments.provenance import stamp


def measure(names: list[str], seeds: int) -> dict:
    trained = {n: controllers.load(n).without("stop") for n in names}
    env, params = trained[names[0]].make_env(augmented=True)
    keys = jax.random.split(jax.random.key(7), seeds)
    rows = evaluate_many(env, params, {n: c.policy for n, c in trained.items()}, keys)
    first = np.asarray(rows[names[0]]["holdout_accuracy"])
    return {
        name: {
            "holdout_accuracy": float(np.mean(row["holdout_accuracy"])),
            "vs_first": summarize(np.asarray(row["holdout_accuracy"]) - first),
        }
        for name, row in rows.items()
    }


def markdown(report: dict) -> str:
    lines = [
        f"Command: `{report['command']}` ({report['date']}, {report['machine']}).",
        "",
        f"{report['seeds']} paired episodes on the training distribution of "
        f"{next(iter(report['controllers']))}, each controller without stop:",
        "",
        "| controller | holdout accuracy | vs the first (paired, 95% CI) |",
        "|---|---|---|",
    ]
    for name, row in report["controllers"].items():
        d = row["vs_first"]
        lines.append(
            f"| {name} | {row['holdout_accuracy']:.4f} "
            f"| {d['mean']:+.4f} ± {d['ci95']:.4f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--controller", action="append", required=True)
    parser.add_argument("--seeds", type=int, default=128)
    parser.add_argument("--out", type=pathlib.Path, default=None, help="JSON path")
    args = parser.parse_args(argv)
    if args.seeds < 2:
        raise SystemExit(f"--seeds must be >= 2 (a paired CI), got {args.seeds}")
    results = measure(args.controller, args.seeds)
    report = {**stamp(), "seeds": args.seeds, "controllers": results}
    report["command"] = "python own_distribution.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    print(markdown(report))
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=1))
        args.out.with_suffix(".md").write_text(markdown(report))
    return report


if __name__ == "__main__":
    main()
