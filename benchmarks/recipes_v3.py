"""Recipes on suite v3 over their PPO seeds: each seed against the goals, and
the recipe-level 95% CI.

    python benchmarks/suite.py --suite v3 --controller RUN \\
        --opponents benchmarks/suite-v3 --data-dir DATA --out runs/v3-RUN
    python benchmarks/recipes_v3.py --add runs/v3-RUN --name NAME \\
        --recipe meta-mix-grouped --seed 1
    python benchmarks/recipes_v3.py       # only the page, from the saved files

`--add` keeps the first controller's rows of a suite v3 run that was paired
with the committed opponents (`benchmarks/suite-v3`), renamed `NAME`, with its
recipe, PPO seed and the run's provenance, as `recipes-v3/NAME.json`: the
controller's rows alone, since the opponents' are committed once. The page,
`recipes-v3/README.md`, is generated from those files
(`autotrain_jax.experiments.screening`'s tables). Suite v3 reports; nothing
here chooses a recipe that ships.
"""

from __future__ import annotations

import argparse
import json
import pathlib

from autotrain_jax.experiments import report, screening
from autotrain_jax.experiments.recipes import RECIPES

ROOT = pathlib.Path(__file__).resolve().parent
SUITE = ROOT / "suite-v3"
OUT = ROOT / "recipes-v3"


def controller_rows(results: dict, name: str) -> dict:
    """The first controller's rows and fixed prior of a suite run, renamed
    `controller NAME`: `protocol.add_controllers`'s form."""
    row = report.controller_rows(results)[0]
    prior = next(iter(results["priors"].values()))
    tasks = {
        task: {
            "cells": {
                lr0: {f"controller {name}": rows[row]}
                for lr0, rows in t["cells"].items()
            }
        }
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
    return screening.page(
        earlier,
        OUT,
        "benchmarks/suite-v3",
        "python benchmarks/recipes_v3.py",
        title="Recipes, over PPO seeds,",
        purpose="Suite v3 reports: nothing here chooses what ships.",
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--add", type=pathlib.Path, default=None, help="a run's folder")
    parser.add_argument("--name", default=None)
    parser.add_argument("--recipe", choices=sorted(RECIPES), default=None)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    earlier = report.from_json((SUITE / "suite.json").read_text())
    if args.add is not None:
        if None in (args.name, args.recipe, args.seed):
            parser.error("--add needs --name, --recipe and --seed")
        results = report.from_json((args.add / "suite.json").read_text())
        if (results["suite"], results["seeds"]) != (earlier["suite"], earlier["seeds"]):
            parser.error(f"{args.add} is not a run of suite v3 on its seeds")
        rows = controller_rows(results, args.name)
        recipe = RECIPES[args.recipe]
        steps = recipe["num_envs"] * recipe["num_steps"] * recipe["num_updates"]
        saved = {
            **results["provenance"],
            "recipe": {"recipe": args.recipe},
            "env_steps": steps,
            "ppo_seed": args.seed,
            "rows": json.loads(report.to_json(rows)),
        }
        OUT.mkdir(exist_ok=True)
        (OUT / f"{args.name}.json").write_text(json.dumps(saved, indent=1))
    (OUT / "README.md").write_text(page(earlier))


if __name__ == "__main__":
    main()
