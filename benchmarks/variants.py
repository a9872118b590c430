"""Which special actions a trained controller should keep, chosen on its own tasks.

    python benchmarks/variants.py --controller meta-tiny-v0 --seeds 64

Runs the controller as trained and without each subset of its special actions
(`Controller.without`: never re-initialise, never stop, neither) on the task
distribution it was trained on (`make_env(augmented=True)`: label noise too, if
it trained with it; every episode a fresh draw), all on the same seeds, and
reports mean *holdout* accuracy with paired 95% CIs against the controller as
trained. The choice reads no test split and no held-out task:
the held-out suite (`autotrain-jax compare`) measures the chosen variant afterwards.
"""

from __future__ import annotations

import argparse
import itertools

import jax
import numpy as np

from autotrain_jax import actions, controllers
from autotrain_jax.evaluation import evaluate_many, summarize


def variants(controller) -> dict:
    """{label: controller} for every subset of the special actions."""
    subsets = itertools.chain.from_iterable(
        itertools.combinations(actions.SPECIAL_ACTIONS, k)
        for k in range(len(actions.SPECIAL_ACTIONS) + 1)
    )
    return {
        "as trained" if not s else f"without {' and '.join(s)}": controller.without(*s)
        for s in subsets
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--controller", required=True, help="a name or run folder")
    parser.add_argument("--seeds", type=int, default=64)
    args = parser.parse_args(argv)
    if args.seeds < 2:
        raise SystemExit(f"--seeds must be >= 2 (a paired CI), got {args.seeds}")
    controller = controllers.load(args.controller)
    env, params = controller.make_env(augmented=True)  # its own distribution
    keys = jax.random.split(jax.random.key(7), args.seeds)
    candidates = variants(controller)
    policies = {label: c.policy for label, c in candidates.items()}
    rows = evaluate_many(env, params, policies, keys)
    reference = np.asarray(rows["as trained"]["holdout_accuracy"])
    report = {}
    print("| variant | holdout accuracy | vs as trained (paired, 95% CI) | steps |")
    print("|---|---|---|---|")
    for label, row in rows.items():
        holdout = np.asarray(row["holdout_accuracy"])
        diff = summarize(holdout - reference)
        report[label] = {
            "holdout_accuracy": float(holdout.mean()),
            "vs_as_trained": diff,
            "inner_steps": float(np.mean(row["inner_steps"])),
        }
        print(
            f"| {label} | {holdout.mean():.4f} | {diff['mean']:+.4f} ± "
            f"{diff['ci95']:.4f} | {np.mean(row['inner_steps']):.0f} |"
        )
    best = max(report, key=lambda k: report[k]["holdout_accuracy"])
    print(f"best by holdout accuracy: {best}")
    return report


if __name__ == "__main__":
    main()
