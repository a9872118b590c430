"""Recipes on a held-out suite (v3, v4) over their PPO seeds: each seed
against the goals, and the recipe-level 95% CI.

    python benchmarks/suite.py --suite v4 --controller RUN \\
        --opponents benchmarks/suite-v4 --data-dir DATA --out runs/v4-RUN
    python benchmarks/recipe_seeds.py --suite v4 --add runs/v4-RUN --name NAME \\
        --recipe meta-mix-cosine --seed 1 [--env lr_max=0.3 ...] [--without reinit]
    python benchmarks/recipe_seeds.py --suite v4  # only the page, from the files

`--add` keeps the first controller's rows of a suite run that was paired with
the suite's committed opponents (`benchmarks/suite-SUITE`), renamed `NAME`,
with its recipe (and any `--env` overrides it was trained with), PPO seed and
the run's provenance, as `recipes-SUITE/NAME.json`: the controller's rows
alone, since the opponents' are committed once. The page,
`recipes-SUITE/README.md`, is generated from those files
(`autotrain_jax.experiments.screening`'s tables). These suites report; nothing
here chooses a recipe that ships.
"""

from __future__ import annotations

import argparse
import json
import pathlib

from autotrain_jax.experiments import protocol, report, screening
from autotrain_jax.experiments.recipes import RECIPES

ROOT = pathlib.Path(__file__).resolve().parent
SUITES = ("v3", "v4")


def folders(suite: str) -> tuple[pathlib.Path, pathlib.Path]:
    """(the suite's committed opponents, its recipes' folder)."""
    return ROOT / f"suite-{suite}", ROOT / f"recipes-{suite}"


def controller_rows(results: dict, name: str) -> dict:
    """The first controller's rows and fixed prior of a suite run, renamed
    `controller NAME`: `protocol.add_controllers`'s form (with the prior's
    row where the committed opponents' grid lacks it: a steered one)."""
    row = report.controller_rows(results)[0]
    prior = next(iter(results["priors"].values()))

    def kept(rows: dict) -> dict:
        own = {f"controller {name}": rows[row]}
        if "optimizer" in prior:
            label = report.find(rows, protocol.PRIOR)
            own[label] = rows[label]
        return own

    tasks = {
        task: {"cells": {lr0: kept(rows) for lr0, rows in t["cells"].items()}}
        for task, t in results["tasks"].items()
    }
    return {
        "suite": results["suite"],
        "seeds": results["seeds"],
        "priors": {name: prior},
        "tasks": tasks,
    }


def page(earlier: dict) -> str:
    """README.md of the saved files (`screening.page`'s tables)."""
    suite = earlier["suite"]
    return screening.page(
        earlier,
        folders(suite)[1],
        f"benchmarks/suite-{suite}",
        f"python benchmarks/recipe_seeds.py --suite {suite}",
        title="Recipes, over PPO seeds,",
        purpose=f"Suite {suite} reports: nothing here chooses what ships.",
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--suite", choices=SUITES, required=True)
    parser.add_argument("--add", type=pathlib.Path, default=None, help="a run's folder")
    parser.add_argument("--name", default=None)
    parser.add_argument("--recipe", choices=sorted(RECIPES), default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an override the run was trained with on top of the recipe",
    )
    parser.add_argument(
        "--without",
        choices=("reinit",),
        default=None,
        help="a special action taken out of the controller beside stop "
        "(Controller.without)",
    )
    args = parser.parse_args(argv)
    opponents, out = folders(args.suite)
    earlier = report.from_json((opponents / "suite.json").read_text())
    if args.add is not None:
        if None in (args.name, args.recipe, args.seed):
            parser.error("--add needs --name, --recipe and --seed")
        results = report.from_json((args.add / "suite.json").read_text())
        if (results["suite"], results["seeds"]) != (earlier["suite"], earlier["seeds"]):
            parser.error(f"{args.add} is not a run of suite {args.suite} on its seeds")
        if bad := [e for e in args.env if "=" not in e]:
            parser.error(f"--env must be KEY=VALUE, got {bad}")
        rows = controller_rows(results, args.name)
        recipe = RECIPES[args.recipe]
        steps = recipe["num_envs"] * recipe["num_steps"] * recipe["num_updates"]
        saved = {
            **results["provenance"],
            "recipe": {
                "recipe": args.recipe,
                **dict(e.split("=", 1) for e in args.env),
                **({"without": args.without} if args.without else {}),
            },
            "env_steps": steps,
            "ppo_seed": args.seed,
            "rows": json.loads(report.to_json(rows)),
        }
        out.mkdir(exist_ok=True)
        (out / f"{args.name}.json").write_text(json.dumps(saved, indent=1))
    (out / "README.md").write_text(page(earlier))


if __name__ == "__main__":
    main()
