"""Does the learned controller beat hand-tuned training? A table and a plot.

    python examples/ppo_mnist.py --out runs/mnist-mlp            # the controller
    python benchmarks/compare.py --policy runs/mnist-mlp --data-dir ../shared/data \
        --tasks mnist-overfit,notmnist,cifar10 --seeds 8 --out benchmarks/comparison

Every policy acts through the same environment (same data, T, horizon, and the
same seeds: initial weights and minibatches are paired across rows). The baselines
use the continuous action set (LR factors up to x10 either way); the controller and
the random policy act in the full set, re-expressed as continuous actions, so all
rows but PBT run as one batched jit. Test accuracy is on the test split, which no
policy and no reward ever sees; the tuned constant LR is the grid point (x0.3, x1,
x3, x10 the preset's initial LR) with the best mean *holdout* accuracy. Wall time
per seed is the batch's wall time (compile included) divided among its episodes;
inner steps are the compute each policy asked for.
"""

from __future__ import annotations

import argparse
import json
import pathlib
from typing import NamedTuple

import jax
import numpy as np

import autotrain_jax as at
from autotrain_jax import baselines
from autotrain_jax.controllers import load as load_controller
from autotrain_jax.evaluation import evaluate_many, evaluate_pbt, summarize
from autotrain_jax.tasks import max_budget

LR_GRID = (0.3, 1.0, 3.0, 10.0)  # constant LRs tried, x the preset's initial LR


class Task(NamedTuple):
    """One comparison setting; its budget is fixed here, not on the command line."""

    preset: str
    overrides: dict
    population: int = 8  # PBT members (each trains a full episode)


TASKS = {
    # 400 training images, 40 steps x T=50: long enough to overfit
    "mnist-overfit": Task("mnist-mlp", {"train_size": 400, "holdout_size": 800}),
    # the mnist-mlp preset on letters the MNIST controller never saw
    "notmnist": Task("mnist-mlp", {"dataset": "notmnist"}),
    # 8 steps x T=50 = 400 Adam steps, PBT with 4 members: a 2-core CPU budget
    "cifar10": Task("cifar10-cnn", {"max_steps_in_episode": 8}, population=4),
    "tiny": Task("tiny", {}),  # the CI-sized run
}


def compare_task(task, policy_dirs, data_dir, seeds):
    """Every row of one task's table: {policy name: per-seed results}."""
    preset, overrides, population = TASKS[task]
    data = {} if preset == "tiny" else {"data_dir": data_dir}
    env, params = at.make_env(preset, **overrides, **data)  # the controller's env
    cont, cont_params = at.make_env(
        preset,
        data=params.data,
        action_set="continuous",
        max_lr_factor=10.0,
        **overrides,
    )
    keys = jax.random.split(jax.random.key(2024), seeds)
    horizon = max_budget(params)
    lr0 = cont_params.initial_lr
    trained = {f"PPO controller ({p.name})": load_controller(p) for p in policy_dirs}
    for controller in trained.values():
        controller.check_env(env)
    controllers = {name: c.policy for name, c in trained.items()}
    policies = {
        name: baselines.in_continuous(controller, env, cont_params)
        for name, controller in controllers.items()
    }
    grid = {f"constant LR {lr0 * f:.2g}": lr0 * f for f in LR_GRID}
    for name, lr in grid.items():
        policies[name] = baselines.constant(cont, cont_params, lr)
    every = max(1, horizon // 4)  # halve the LR three times per episode
    policies[f"step decay (x0.5 / {every} steps)"] = baselines.step_decay(
        cont, cont_params, every=every
    )
    policies["cosine decay"] = baselines.cosine_decay(cont, cont_params, horizon)
    policies["reduce on plateau"] = baselines.reduce_on_plateau(cont, cont_params)
    policies["early stopping (restore best)"] = baselines.early_stopping(
        cont, cont_params
    )
    policies["random (full action set)"] = baselines.in_continuous(
        baselines.random_policy(env), env, cont_params
    )
    results = evaluate_many(cont, cont_params, policies, keys)

    tuned = max(grid, key=lambda name: results[name]["holdout_accuracy"].mean())
    rows = {name: results.pop(name) for name in controllers}
    rows[f"constant LR {lr0:.2g} (preset)"] = results[f"constant LR {lr0:.2g}"]
    rows[f"tuned {tuned} (best holdout of {len(grid)})"] = results[tuned]
    rows |= {name: r for name, r in results.items() if name not in grid}
    rows[f"PBT ({population} members; best)"] = evaluate_pbt(
        cont, cont_params, keys, population
    )
    return rows


def markdown(task: str, rows: dict) -> str:
    """The task's table; the difference column pairs seeds with the preset's
    constant LR (same initial weights and minibatches)."""
    reference = next(r for name, r in rows.items() if name.endswith("(preset)"))
    lines = [
        f"### {task}",
        "",
        "| policy | test accuracy (mean ± 95% CI) | vs preset constant (paired) | "
        "holdout accuracy | inner steps | wall s / seed |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        test = summarize(r["test_accuracy"])
        diff = summarize(
            np.asarray(r["test_accuracy"]) - np.asarray(reference["test_accuracy"])
        )
        lines.append(
            f"| {name} | {test['mean']:.4f} ± {test['ci95']:.4f} | "
            f"{diff['mean']:+.4f} ± {diff['ci95']:.4f} | "
            f"{np.mean(r['holdout_accuracy']):.4f} | {np.mean(r['inner_steps']):.0f} | "
            f"{np.mean(r['wall_time_s']):.2f} |"
        )
    return "\n".join(lines) + "\n"


def plot(all_rows: dict, path: pathlib.Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6 * len(all_rows), 5), constrained_layout=True)
    axes = fig.subplots(1, len(all_rows), squeeze=False)
    for ax, (task, rows) in zip(axes[0], all_rows.items(), strict=True):
        names = list(rows)
        stats = [summarize(rows[n]["test_accuracy"]) for n in names]
        ax.barh(names, [s["mean"] for s in stats], xerr=[s["ci95"] for s in stats])
        low = min(s["mean"] - s["ci95"] for s in stats)
        ax.set(title=task, xlabel="test accuracy", xlim=(max(0.0, low - 0.02), None))
    fig.savefig(path, dpi=100)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--policy",
        type=pathlib.Path,
        action="append",
        default=[],
        help="a PPO run's --out folder (repeatable)",
    )
    parser.add_argument("--tasks", default="mnist-overfit,notmnist,cifar10")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("comparison"))
    args = parser.parse_args(argv)
    unknown = set(args.tasks.split(",")) - set(TASKS)
    if unknown:
        raise ValueError(f"tasks must be among {sorted(TASKS)}, got {sorted(unknown)}")
    args.out.mkdir(parents=True, exist_ok=True)
    all_rows = {}
    for task in args.tasks.split(","):  # outputs rewritten after every task
        all_rows[task] = compare_task(task, args.policy, args.data_dir, args.seeds)
        print(markdown(task, all_rows[task]), flush=True)
        write(all_rows, args.out)
    return all_rows


def write(all_rows: dict, out: pathlib.Path) -> None:
    """comparison.md, comparison.png and comparison.json (every seed) in `out`."""
    text = "\n".join(markdown(task, rows) for task, rows in all_rows.items())
    (out / "comparison.md").write_text(text)
    plot(all_rows, out / "comparison.png")
    serial = {
        task: {
            name: {k: np.asarray(v).tolist() for k, v in r.items()}
            for name, r in rows.items()
        }
        for task, rows in all_rows.items()
    }
    (out / "comparison.json").write_text(json.dumps(serial, indent=2))


if __name__ == "__main__":
    main()
