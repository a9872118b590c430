"""A controller on tasks it never trained on, against what a practitioner would run.

    python examples/meta_train.py --out runs/meta-1m
    python benchmarks/heldout.py --controller runs/meta-1m --data-dir ../shared/data \
        --seeds 8 --out benchmarks/heldout

Every task below lies outside `examples/meta_train.py`'s training distribution
(embedded MNIST, one hidden layer of 16-64 units, 10-30 env steps): other data,
a wider or deeper model, a longer budget, a CNN on CIFAR-10. Each runs from three
initial LRs: 1e-2 (the `tiny` preset's), 1e-1 (10x too high) and 1e-4 (100x too
low). Rows, all through the same env and the same seeds (paired initial weights
and minibatches):

- the controller (greedy; several with repeated --controller, in the same batch);
- the untuned constant: the initial LR throughout (what a user would have run);
- the tuned constant: the best of `GRID` by mean *holdout* accuracy, one per task
  (the grid's total compute is reported);
- cosine decay from the initial LR, and early stopping with restore at it;
- PBT (8 members, from the initial LR; its compute is all members').

Test accuracy is on the test split, which no policy, reward or selection reads.
Writes heldout.json (every seed), heldout.md and heldout.png to --out.
`--baselines OLD/heldout.json` reuses an earlier run's rows (same seeds and
controller settings): its tasks that are in --tasks run only the controllers
given, the others are kept as they were, and new tasks run in full.
"""

from __future__ import annotations

import argparse
import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np

import autotrain_jax as at
from autotrain_jax import baselines, controllers
from autotrain_jax.evaluation import evaluate_many, evaluate_pbt, summarize
from autotrain_jax.tasks import max_budget

TASKS = {  # make_env overrides on the controller's settings
    "notmnist": {"dataset": "notmnist", "hidden": (64,), "max_steps_in_episode": 20},
    "mnist-wide": {"hidden": (128,), "max_steps_in_episode": 20},
    "mnist-deep": {"hidden": (64, 64), "max_steps_in_episode": 20},
    "mnist-long": {"hidden": (32,), "max_steps_in_episode": 60},
    "cifar10-cnn": {
        "dataset": "cifar10",
        "model": "cnn",
        "hidden": (16, 32),
        "max_steps_in_episode": 20,
    },
}
TUNED = "tuned constant"  # the row's name before " (LR)"
DATA = {"train_size": 2048, "holdout_size": 1024}
CLEAN = {"label_noise": None}  # the task's own labels, whatever trained the controller
INITIAL_LRS = (1e-2, 1e-1, 1e-4)
GRID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1)


def run_task(trained: dict, task: str, data_dir, seeds: int, cached=None) -> dict:
    """{initial LR: {policy: per-seed results}} for one task, and its grid;
    `trained`: {label: Controller}, all with the same env settings. With
    `cached` (this task's result from an earlier run on the same seeds), only
    the controllers run; the cached rows are kept."""
    controller = next(iter(trained.values()))
    overrides = {**TASKS[task], **DATA, **CLEAN, "initial_lr": INITIAL_LRS[0]}
    env, params = controller.make_env(data_dir=data_dir, **overrides)
    settings = {**controller.settings, **overrides, "data": params.data}
    settings |= {"action_set": "continuous", "max_lr_factor": 10.0}
    cont, cont_params = at.make_env(controller.preset, **settings)  # same data
    keys = jax.random.split(jax.random.key(2024), seeds)

    def at_lr(lr):
        return cont_params.replace(initial_lr=jnp.float32(lr))

    result = cached or baseline_rows(cont, keys, at_lr)
    for lr0 in INITIAL_LRS:
        p = at_lr(lr0)
        policies = {
            f"controller {label}": baselines.in_continuous(c.policy, env, p)
            for label, c in trained.items()
        }
        rows = evaluate_many(cont, p, policies, keys)
        kept = {k: v for k, v in result["cells"][lr0].items() if k not in rows}
        result["cells"][lr0] = rows | kept  # controllers first
    return result


def baseline_rows(cont, keys, at_lr) -> dict:
    """Every row but the controllers', for each initial LR; the tuned constant
    is the grid point with the best mean holdout accuracy."""
    grid = {}
    for lr in GRID:  # each grid run starts at its own LR
        p = at_lr(lr)
        keep = {"constant": baselines.constant(cont, p)}
        grid[lr] = evaluate_many(cont, p, keep, keys)["constant"]
    tuned = max(GRID, key=lambda lr: grid[lr]["holdout_accuracy"].mean())
    grid_steps = float(sum(np.mean(grid[lr]["inner_steps"]) for lr in GRID))
    cells = {}
    for lr0 in INITIAL_LRS:
        p = at_lr(lr0)
        horizon = max_budget(p)
        policies = {
            "untuned constant": baselines.constant(cont, p),
            "cosine decay": baselines.cosine_decay(cont, p, horizon),
            "early stopping (restore)": baselines.early_stopping(cont, p),
        }
        rows = evaluate_many(cont, p, policies, keys)
        rows[f"tuned constant ({tuned:g})"] = grid[tuned]
        rows["PBT (8 members)"] = evaluate_pbt(cont, p, keys, population=8)
        cells[lr0] = rows
    return {"cells": cells, "tuned_lr": tuned, "grid_inner_steps": grid_steps}


def baseline_settings(settings: dict) -> dict:
    """The controller settings the baseline rows depend on: those that no task
    overrides (the baselines run the continuous set from the task's own LRs)."""
    every_task = set.intersection(*(set(overrides) for overrides in TASKS.values()))
    overridden = {*every_task, *DATA, *CLEAN, "initial_lr", "action_set"}
    kept = {k: v for k, v in settings.items() if k not in overridden}
    return json.loads(json.dumps(kept))


def load_cached(path: pathlib.Path, seeds: int, settings: dict) -> dict:
    """An earlier heldout.json's results, checked to be on the same seeds and
    settings the baselines depend on (its controllers may have trained on
    another distribution)."""
    saved = json.loads(path.read_text())
    same = baseline_settings(saved["settings"]) == baseline_settings(settings)
    if saved["seeds"] != seeds or not same:
        raise SystemExit(
            f"--baselines {path} was run with {saved['seeds']} seeds and settings "
            f"{saved['settings']}; this run has {seeds} and {settings}"
        )
    return {
        task: {
            **r,
            "cells": {
                float(lr0): {
                    name: {k: np.asarray(v) for k, v in row.items()}
                    for name, row in rows.items()
                }
                for lr0, rows in r["cells"].items()
            },
        }
        for task, r in saved["tasks"].items()
    }


def paired(rows: dict, name: str, reference: str) -> dict:
    diff = np.asarray(rows[name]["test_accuracy"]) - rows[reference]["test_accuracy"]
    return summarize(diff)


def markdown(results: dict) -> str:
    lines = []
    for task, result in results.items():
        lines += [
            f"### {task} (tuned constant LR {result['tuned_lr']:g}: grid of "
            f"{len(GRID)}, {result['grid_inner_steps']:.0f} inner steps in all)",
            "",
            "| initial LR | policy | test accuracy (mean ± 95% CI) | "
            "vs untuned (paired) | vs tuned (paired) | inner steps |",
            "|---|---|---|---|---|---|",
        ]
        for lr0, rows in result["cells"].items():
            tuned = next(n for n in rows if n.startswith("tuned"))
            for name, r in rows.items():
                test = summarize(r["test_accuracy"])
                untuned = paired(rows, name, "untuned constant")
                vs_tuned = paired(rows, name, tuned)
                lines.append(
                    f"| {lr0:g} | {name} | {test['mean']:.4f} ± {test['ci95']:.4f} | "
                    f"{untuned['mean']:+.4f} ± {untuned['ci95']:.4f} | "
                    f"{vs_tuned['mean']:+.4f} ± {vs_tuned['ci95']:.4f} | "
                    f"{np.mean(r['inner_steps']):.0f} |"
                )
        lines.append("")
    return "\n".join(lines) + "\n" + summary(results) + "\n" + per_task(results)


def summary(results: dict) -> str:
    """Per policy, over every (task, initial LR): the mean paired difference
    (a per-seed average over cells, then a 95% CI over seeds), and the worst
    cell's mean difference."""
    cells = [
        (t, lr0, rows) for t, r in results.items() for lr0, rows in r["cells"].items()
    ]
    lines = [
        "### Over all tasks and initial LRs",
        "",
        "| policy | vs untuned (paired, 95% CI) | worst cell vs untuned | "
        "vs tuned (paired, 95% CI) | mean inner steps |",
        "|---|---|---|---|---|",
    ]
    for short in _shared_policies(results):
        untuned, tuned, worst, steps = [], [], [], []
        for task, lr0, rows in cells:
            untuned.append(_test_diff(rows, short, "untuned constant"))
            tuned.append(_test_diff(rows, short, TUNED))
            worst.append((float(np.mean(untuned[-1])), f"{task} @ {lr0:g}"))
            steps.append(np.mean(rows[_find(rows, short)]["inner_steps"]))
        u, t = summarize(np.mean(untuned, 0)), summarize(np.mean(tuned, 0))
        low = min(worst)
        lines.append(
            f"| {short} | {u['mean']:+.4f} ± {u['ci95']:.4f} | {low[0]:+.4f} "
            f"({low[1]}) | {t['mean']:+.4f} ± {t['ci95']:.4f} | {np.mean(steps):.0f} |"
        )
    return "\n".join(lines) + "\n"


def per_task(results: dict) -> str:
    """Per policy and task: the paired difference from the tuned constant,
    averaged over the task's initial LRs per seed, 95% CI over seeds; and the
    policy's worst task."""
    lines = [
        "### Per task: vs the tuned constant (paired, averaged over initial LRs)",
        "",
        f"| policy | {' | '.join(results)} | worst task |",
        "|---|" + "---|" * (len(results) + 1),
    ]
    for short in _shared_policies(results):
        by_task = {}
        for task, r in results.items():
            diffs = [_test_diff(rows, short, TUNED) for rows in r["cells"].values()]
            by_task[task] = summarize(np.mean(diffs, 0))
        entries = [f"{d['mean']:+.4f} ± {d['ci95']:.4f}" for d in by_task.values()]
        worst = min(by_task, key=lambda task: by_task[task]["mean"])
        lines.append(f"| {short} | {' | '.join(entries)} | {worst} |")
    return "\n".join(lines) + "\n"


def _shared_policies(results: dict) -> list[str]:
    """The short names (before any " (...)") of the policies in every
    (task, initial LR) cell, in the first cell's order."""
    cells = [rows for r in results.values() for rows in r["cells"].values()]
    names = [n.split(" (")[0] for n in cells[0]]
    return [n for n in names if all(_find(rows, n) for rows in cells)]


def _test_diff(rows: dict, short: str, reference: str) -> np.ndarray:
    """Per seed: the test accuracy of the row `short` minus that of the row
    `reference` (both short names)."""
    test = {
        n: np.asarray(rows[_find(rows, n)]["test_accuracy"]) for n in (short, reference)
    }
    return test[short] - test[reference]


def _find(rows: dict, short: str) -> str | None:
    """The row whose name, before any " (...)", is `short`."""
    return next((n for n in rows if n.split(" (")[0] == short), None)


def plot(results: dict, path: pathlib.Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5 * len(results), 5), constrained_layout=True)
    axes = fig.subplots(1, len(results), squeeze=False)[0]
    for ax, (task, result) in zip(axes, results.items(), strict=True):
        for lr0, rows in result["cells"].items():
            names = list(rows)
            means = [np.mean(rows[n]["test_accuracy"]) for n in names]
            ax.plot(means, names, "o", label=f"initial LR {lr0:g}")
        ax.set(title=task, xlabel="test accuracy")
        ax.legend(fontsize=8)
    fig.savefig(path, dpi=100)


def write(results: dict, out: pathlib.Path, seeds: int, settings: dict) -> None:
    (out / "heldout.md").write_text(markdown(results))
    plot(results, out / "heldout.png")
    tasks = {
        task: {
            "tuned_lr": r["tuned_lr"],
            "grid_inner_steps": r["grid_inner_steps"],
            "cells": {
                f"{lr0:g}": {
                    name: {k: np.asarray(v).tolist() for k, v in row.items()}
                    for name, row in rows.items()
                }
                for lr0, rows in r["cells"].items()
            },
        }
        for task, r in results.items()
    }
    serial = {"seeds": seeds, "settings": settings, "tasks": tasks}
    (out / "heldout.json").write_text(json.dumps(serial, indent=2))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--controller",
        action="append",
        required=True,
        help="a shipped name or a run folder (repeatable; same env settings)",
    )
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--data-dir", default=None, help="folder of the .npz files")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument(
        "--baselines",
        type=pathlib.Path,
        default=None,
        help="an earlier heldout.json on the same seeds: reuse its rows",
    )
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("heldout"))
    args = parser.parse_args(argv)
    tasks = args.tasks.split(",")
    if unknown := sorted(set(tasks) - set(TASKS)):
        raise SystemExit(f"--tasks must be among {sorted(TASKS)}, got {unknown}")
    trained = {pathlib.Path(c).name: controllers.load(c) for c in args.controller}
    every = {label: dict(c.settings) for label, c in trained.items()}
    if len({json.dumps(s, sort_keys=True) for s in every.values()}) > 1:
        raise SystemExit(f"--controller runs must share env settings, got {every}")
    settings = next(iter(every.values()))
    cached = {}
    if args.baselines is not None:
        cached = load_cached(args.baselines, args.seeds, settings)
    args.out.mkdir(parents=True, exist_ok=True)
    results = dict(cached)  # tasks not rerun keep their earlier rows
    for task in tasks:  # outputs rewritten after every task
        results[task] = run_task(
            trained, task, args.data_dir, args.seeds, cached.get(task)
        )
        write(results, args.out, args.seeds, settings)
        print(f"{task} done", flush=True)
    print(markdown(results))
    return results


if __name__ == "__main__":
    main()
