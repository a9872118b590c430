"""Figures of a suite's results, drawn from its JSON with the numbers beside.

    python -m autotrain_jax.experiments.figures benchmarks/suite-v6-v3 \
        --out docs/figures/suite-v6-v3.svg

writes the figure and, beside it, a CSV of every number it draws (`.csv`,
the controller named on each line): a test recomputes the CSV from the
suite's JSON, so the figure cannot drift from the data it claims to show.
"""

from __future__ import annotations

import argparse
import csv
import io
import pathlib

import numpy as np

from autotrain_jax.experiments import report
from autotrain_jax.experiments.protocol import COSINE, TUNED

# The opponents a practitioner reaches for instead of a controller.
OPPONENTS = (COSINE, TUNED, "schedule_free_adamw")
ALL = "all tasks"


def by_task(
    results: dict, controller: str, opponents=OPPONENTS
) -> dict[str, dict[str, dict]]:
    """{task or ALL: {opponent: summarize(points)}}: the controller minus the
    opponent, paired, per seed the mean over the task's cells (ALL: over
    every cell), with its 95% CI over seeds."""
    return {
        name: {o: report.paired(results, controller, o, task) for o in opponents}
        for name, task in [(t, t) for t in results["tasks"]] + [(ALL, None)]
    }


def to_csv(rows: dict[str, dict[str, dict]], controller: str) -> str:
    """`by_task`'s numbers for `controller` (its name, without "controller "),
    one line per (task, opponent), rounded as drawn."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["controller", "task", "opponent", "mean", "ci95"])
    for task, by_opponent in rows.items():
        for opponent, s in by_opponent.items():
            mean, ci95 = f"{s['mean']:.2f}", f"{s['ci95']:.2f}"
            writer.writerow([controller, task, opponent, mean, ci95])
    return out.getvalue()


def plot_by_task(results: dict, controller: str, path: pathlib.Path) -> None:
    """Writes `path` (SVG or PNG): per task and over all, the controller
    minus each of `OPPONENTS` with its 95% CI; and the CSV of those numbers
    beside it (`path.with_suffix(".csv")`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = by_task(results, controller)
    name = controller.removeprefix("controller ")
    path.with_suffix(".csv").write_text(to_csv(rows, name))
    tasks = list(rows)[::-1]  # the first task on top, "all tasks" at the bottom
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "autotrain_jax"}):
        fig, ax = plt.subplots(figsize=(7, 0.45 * len(tasks) + 1.4))
        for k, opponent in enumerate(OPPONENTS):
            y = np.arange(len(tasks)) + (k - 1) * 0.22
            means = [rows[t][opponent]["mean"] for t in tasks]
            cis = [rows[t][opponent]["ci95"] for t in tasks]
            ax.errorbar(means, y, xerr=cis, fmt="o", capsize=2, label=opponent)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.axhline(0.5, color="grey", linewidth=0.5)
        ax.set_yticks(np.arange(len(tasks)), tasks)
        run = results["provenance"]
        ax.set_xlabel("test accuracy points, controller minus opponent (95% CI)")
        ax.set_title(
            f"{name} on suite {results['suite']}, {results['seeds']} paired seeds\n"
            f"({run['date']}, {run['machine'].split(', backend')[0]})",
            fontsize=9,
        )
        ax.legend(fontsize=8, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.14))
        fig.tight_layout()
        fig.savefig(path, metadata={"Date": None} if path.suffix == ".svg" else None)
        plt.close(fig)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=pathlib.Path, help="a suite run's folder")
    parser.add_argument("--out", type=pathlib.Path, required=True)
    parser.add_argument(
        "--controller", default=None, help="its name (default: the run's first)"
    )
    args = parser.parse_args(argv)
    if not (args.folder / "suite.json").is_file():
        parser.error(f"folder must hold a suite run's suite.json: {args.folder}")
    if args.out.suffix not in (".svg", ".png"):
        parser.error(f"--out must end in .svg or .png, got {args.out}")
    results = report.from_json((args.folder / "suite.json").read_text())
    ran = report.controller_rows(results)
    controller = ran[0] if args.controller is None else f"controller {args.controller}"
    if controller not in ran:
        parser.error(f"--controller must be one of {ran}, got {args.controller!r}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    plot_by_task(results, controller, args.out)


if __name__ == "__main__":
    main()
