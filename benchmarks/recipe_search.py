"""Meta-training recipes screened on suite v2, against its committed opponents.

    python examples/meta_train.py --out runs/meta-mix \\
        --env "optimizer=('sgd','momentum','adam','rmsprop')"
    python benchmarks/recipe_search.py --run runs/meta-mix --data-dir ../shared/data
    python benchmarks/recipe_search.py --validate meta-tiny-v1-nostop \
        --data-dir ../shared/data                 # a controller on the val suite
    python benchmarks/recipe_search.py        # only the table, from the saved screens

A run's controller, without its stop action (the variant shipped so far), joins
`benchmarks/suite-v2` through `protocol.add_controllers`: only its rows run,
on the suite's seeds, paired with the committed opponents. Its rows, settings
and provenance go to `benchmarks/recipe-search/NAME.json` and the controller
to `benchmarks/recipe-search/NAME/`; `README.md` there tables every screen
against the suite's goals, generated from those files. These numbers shape
the recipe, so whatever they choose is confirmed on a fresh suite before it
ships.

Each screened controller also runs the validation suite (`suites/val.json`):
its mean holdout accuracy there, kept in `recipe-search/validation.json`, is
what chooses among PPO seeds and recipes, without reading suite v2's test
accuracies again.
"""

from __future__ import annotations

import argparse
import json
import pathlib

import numpy as np

from autotrain_jax import controllers
from autotrain_jax.evaluation import summarize
from autotrain_jax.experiments import protocol, recipes, report
from autotrain_jax.experiments.provenance import stamp

ROOT = pathlib.Path(__file__).resolve().parent
SUITE = ROOT / "suite-v2"
OUT = ROOT / "recipe-search"
VALIDATION = OUT / "validation.json"
SET_BY_THE_RUN = ("action_set", "reward")  # flags of meta_train.py, not --env


def screen(run: pathlib.Path, data_dir, earlier: dict) -> dict:
    """The run's no-stop controller on the suite: its rows and provenance."""
    name = run.name
    controller = controllers.load(run).without("stop")
    controller.save(OUT / name)
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


def validate(label: str, controller, data_dir) -> None:
    """`controller` on the validation suite, saved under `label` in
    `validation.json` (its mean holdout accuracy and rows, with provenance)."""
    suite = protocol.load_suite("val")
    chosen = protocol.validate({label: controller}, suite, data_dir=data_dir)
    saved = json.loads(VALIDATION.read_text()) if VALIDATION.exists() else {}
    saved[label] = {
        **stamp(),
        "holdout_accuracy": chosen["holdout_accuracy"][label],
        "rows": json.loads(report.to_json(chosen)),
    }
    VALIDATION.write_text(json.dumps(saved, indent=1, sort_keys=True))


def _validation(name: str) -> str:
    saved = json.loads(VALIDATION.read_text()) if VALIDATION.exists() else {}
    return f"{100 * saved[name]['holdout_accuracy']:.2f}" if name in saved else "-"


def screens(earlier: dict) -> list[tuple[str, dict, dict]]:
    """(name, saved screen, results with the opponents) of each saved screen,
    by recipe, then PPO seed."""
    out = []
    for path in sorted(set(OUT.glob("*.json")) - {VALIDATION}):
        saved = json.loads(path.read_text())
        rows = report.from_json(json.dumps(saved["rows"]))
        out.append((path.stem, saved, protocol.with_opponents(rows, earlier)))
    return sorted(out, key=lambda s: (_recipe(s[1]), s[1]["ppo_seed"]))


def _recipe(saved: dict) -> str:
    return ", ".join(f"`{k}={v}`" for k, v in saved["recipe"].items())


def table(earlier: dict) -> str:
    """Every saved screen and the shipped controller against the suite's goals."""
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
        cells.append(_validation(name))
        lines.append(
            f"| {name} | {recipe} | {steps:,} | {seed} | {' | '.join(cells)} |"
        )

    name = shipped.removeprefix("controller ")
    steps = controllers.load(name).provenance["env_steps"]
    line(name, "(shipped)", steps, 0, earlier, shipped)
    for name, saved, results in screens(earlier):
        steps, seed = saved["env_steps"], saved["ppo_seed"]
        line(name, _recipe(saved), steps, seed, results, f"controller {name}")
    return "\n".join(lines)


OPPONENTS = ("fixed prior", "tuned cosine", "schedule_free_adamw")


def by_recipe(earlier: dict) -> str:
    """Per recipe with several PPO seeds: each seed's mean difference over all
    cells to each of `OPPONENTS`, then their mean ± 95% CI over PPO seeds."""
    groups: dict[str, list] = {}
    for name, saved, results in screens(earlier):
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


def page(earlier: dict) -> str:
    """README.md of the recipe search."""
    return (
        PREAMBLE
        + table(earlier)
        + "\n\nPer recipe, over its PPO seeds (each seed's mean over all cells; "
        "95% CI over PPO seeds, the recipe-level uncertainty):\n\n"
        + by_recipe(earlier)
        + "\n"
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", action="append", default=[], type=pathlib.Path)
    parser.add_argument(
        "--validate",
        action="append",
        default=[],
        metavar="CONTROLLER",
        help="a shipped controller's name or a screen's name: run it on the val suite",
    )
    parser.add_argument("--data-dir", default=None, help="folder of the .npz files")
    args = parser.parse_args(argv)
    earlier = report.from_json((SUITE / "suite.json").read_text())
    OUT.mkdir(exist_ok=True)
    for name in args.validate:  # checked before anything runs
        controllers.load(OUT / name if (OUT / name).is_dir() else name)
    for run in args.run:
        saved = screen(run, args.data_dir, earlier)
        (OUT / f"{run.name}.json").write_text(json.dumps(saved, indent=1))
        validate(run.name, controllers.load(OUT / run.name), args.data_dir)
    for name in args.validate:
        path = OUT / name
        controller = controllers.load(path if path.is_dir() else name)
        validate(name, controller, args.data_dir)
    (OUT / "README.md").write_text(page(earlier))


PREAMBLE = """# Recipe search on suite v2

Generated by `python benchmarks/recipe_search.py` from the screens beside this
file (each `NAME.json` holds its command, date and machine). Each row is one PPO
seed's controller without its stop action, on suite v2's 8 tasks, 3 initial LRs
each and 8 paired seeds, paired with the opponents committed in
`benchmarks/suite-v2`; points of test accuracy over all cells, ± 95% CI over
seeds. These numbers are used to choose a recipe, so a chosen recipe is
confirmed on a fresh suite before it ships.

"""

if __name__ == "__main__":
    main()
