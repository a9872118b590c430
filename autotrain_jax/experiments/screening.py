"""Screening meta-training recipes on a suite, against its committed opponents.

A screen is one training run's controller without its stop action, on a suite
whose opponents an earlier `protocol.run_suite` committed: only its rows run
(`protocol.add_controllers`), on the suite's seeds, paired with those
opponents. It is kept as `NAME.json` (rows, recipe, provenance) beside the
controller (`NAME/`) in a folder, whose README (`page`) tables every screen
against the suite's goals, and, per recipe with several PPO seeds, the
recipe-level CI. Each candidate also runs the validation suite (`validate`),
whose mean holdout accuracy chooses among seeds and recipes without reading
the screened suite's test accuracies again (`benchmarks/recipe_search.py`).
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

from autotrain_jax import controllers
from autotrain_jax.evaluation import summarize
from autotrain_jax.experiments import protocol, recipes, report
from autotrain_jax.experiments.provenance import stamp

VALIDATION = "validation.json"  # a folder's validation results, by candidate


def screen(
    run: pathlib.Path, earlier: dict, folder: pathlib.Path, data_dir=None
) -> dict:
    """The run's no-stop controller on the `earlier` run's suite, paired with
    its opponents (`protocol.add_controllers`): its rows and provenance. The
    controller is saved as `folder/RUN`."""
    name = run.name
    controller = controllers.load(run).without("stop")
    controller.save(folder / name)
    reference = controllers.load(next(iter(earlier["priors"])))
    suite = protocol.load_suite(earlier["suite"])
    rows = protocol.add_controllers(
        {name: controller}, suite, earlier, reference, data_dir=data_dir
    )
    base = recipes.META_TINY["env"]
    recipe = {k: v for k, v in controller.settings.items() if base.get(k) != v}
    return {
        **stamp(),
        "recipe": {
            k: v for k, v in recipe.items() if k not in ("action_set", "reward")
        },
        "trained_by": controller.provenance["command"],
        "env_steps": controller.provenance["env_steps"],
        "ppo_seed": controller.provenance["seed"],
        "rows": json.loads(report.to_json(rows)),
    }


def validate(label: str, controller, folder: pathlib.Path, data_dir=None) -> None:
    """`controller` on the validation suite (`suites/val.json`), saved under
    `label` in `folder/validation.json` (its mean holdout accuracy and rows,
    with provenance)."""
    path = folder / VALIDATION
    suite = protocol.load_suite("val")
    chosen = protocol.validate({label: controller}, suite, data_dir=data_dir)
    saved = json.loads(path.read_text()) if path.exists() else {}
    saved[label] = {
        **stamp(),
        "holdout_accuracy": chosen["holdout_accuracy"][label],
        "rows": json.loads(report.to_json(chosen)),
    }
    path.write_text(json.dumps(saved, indent=1, sort_keys=True))


def _validation(folder: pathlib.Path, name: str) -> str:
    path = folder / VALIDATION
    saved = json.loads(path.read_text()) if path.exists() else {}
    return f"{100 * saved[name]['holdout_accuracy']:.2f}" if name in saved else "-"


def screens(earlier: dict, folder: pathlib.Path) -> list[tuple[str, dict, dict]]:
    """(name, saved screen, results with the opponents) of each screen saved
    in `folder`, by recipe, then PPO seed."""
    out = []
    for path in sorted(set(folder.glob("*.json")) - {folder / VALIDATION}):
        saved = json.loads(path.read_text())
        rows = report.from_json(json.dumps(saved["rows"]))
        out.append((path.stem, saved, protocol.with_opponents(rows, earlier)))
    return sorted(out, key=lambda s: (_recipe(s[1]), s[1]["ppo_seed"]))


def _recipe(saved: dict) -> str:
    return ", ".join(f"`{k}={v}`" for k, v in saved["recipe"].items())


def table(earlier: dict, folder: pathlib.Path) -> str:
    """Every saved screen and the earlier run's first controller against the
    suite's goals."""
    shipped = report.controller_rows(earlier)[0]
    lines = [
        "| controller | recipe (beside meta_tiny's) | env steps | PPO seed "
        "| 1. vs fixed prior | 2. vs tuned cosine | 3. vs best LR-free "
        "| 4. worst vs tuned constant | val holdout % |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def line(name, recipe, steps, seed, results, row):
        goals = report.goal_rows(results, row)[:4]
        cells = [f"{m} {'(met)' if met else ''}".strip() for _, m, met in goals]
        cells.append(_validation(folder, name))
        lines.append(
            f"| {name} | {recipe} | {steps:,} | {seed} | {' | '.join(cells)} |"
        )

    name = shipped.removeprefix("controller ")
    steps = controllers.load(name).provenance["env_steps"]
    line(name, "(shipped)", steps, 0, earlier, shipped)
    for name, saved, results in screens(earlier, folder):
        steps, seed = saved["env_steps"], saved["ppo_seed"]
        line(name, _recipe(saved), steps, seed, results, f"controller {name}")
    return "\n".join(lines)


OPPONENTS = ("fixed prior", "tuned cosine", "schedule_free_adamw")


def by_recipe(earlier: dict, folder: pathlib.Path) -> str:
    """Per recipe with several PPO seeds: each seed's mean difference over all
    cells to each of `OPPONENTS`, then their mean ± 95% CI over PPO seeds."""
    groups: dict[str, list] = {}
    for name, saved, results in screens(earlier, folder):
        cells = [
            rows for t in results["tasks"].values() for rows in t["cells"].values()
        ]
        means = [
            100 * np.mean([report.diff(r, f"controller {name}", o) for r in cells])
            for o in OPPONENTS
        ]
        groups.setdefault(_recipe(saved), []).append(means)
    head = " | ".join(f"vs {o}" for o in OPPONENTS)
    lines = [f"| recipe | PPO seeds | {head} |", "|---|---|" + "---|" * len(OPPONENTS)]
    for recipe, means in groups.items():
        if len(means) < 2:
            continue
        stats = [summarize(column) for column in np.transpose(means)]
        cells = " | ".join(f"{s['mean']:+.2f} ± {s['ci95']:.2f} pts" for s in stats)
        lines.append(f"| {recipe} | {len(means)} | {cells} |")
    return "\n".join(lines)


CHOOSES = (
    "These numbers are used to choose a recipe, so a chosen recipe is confirmed "
    "on a fresh suite before it ships."
)


def page(
    earlier: dict,
    folder: pathlib.Path,
    opponents: str,
    command: str,
    title: str = "Recipe search",
    purpose: str = CHOOSES,
) -> str:
    """The README.md of a folder of screens on the suite of `earlier` (whose
    opponents are committed in the folder `opponents`), written by `command`:
    `title` on suite NAME, then what the numbers are for (`purpose`)."""
    tasks = len(earlier["tasks"])
    return (
        f"# {title} on suite {earlier['suite']}\n\n"
        f"Generated by `{command}` from the screens beside this file (each "
        "`NAME.json` holds its command, date and machine). Each row is one PPO "
        "seed's controller without its stop action, on the suite's "
        f"{tasks} tasks from each of their initial LRs, on {earlier['seeds']} "
        f"paired seeds, paired with the opponents committed in `{opponents}`; "
        f"points of test accuracy over all cells, ± 95% CI over seeds. {purpose}\n\n"
        + table(earlier, folder)
        + "\n\nPer recipe, over its PPO seeds (each seed's mean over all cells; "
        "95% CI over PPO seeds, the recipe-level uncertainty):\n\n"
        + by_recipe(earlier, folder)
        + "\n"
    )
