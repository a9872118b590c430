"""Meta-training recipes screened on suite v2, against its committed opponents.

    python examples/meta_train.py --out runs/meta-mix \\
        --env "optimizer=('sgd','momentum','adam','rmsprop')"
    python benchmarks/recipe_search.py --run runs/meta-mix --data-dir ../shared/data
    python benchmarks/recipe_search.py --validate meta-tiny-v1-nostop \\
        --data-dir ../shared/data                 # a controller on the val suite
    python benchmarks/recipe_search.py        # only the table, from the saved screens

A run's controller, without its stop action (the variant shipped so far), joins
`benchmarks/suite-v2` through `protocol.add_controllers`: only its rows run,
on the suite's seeds, paired with the committed opponents. Its rows, settings
and provenance go to `benchmarks/recipe-search/NAME.json` and the controller
to `benchmarks/recipe-search/NAME/`; `README.md` there tables every screen
against the suite's goals, generated from those files
(`autotrain_jax.experiments.screening`). These numbers shape the recipe, so
whatever they choose is confirmed on a fresh suite before it ships.

Each screened controller also runs the validation suite (`suites/val.json`):
its mean holdout accuracy there, kept in `recipe-search/validation.json`, is
what chooses among PPO seeds and recipes, without reading suite v2's test
accuracies again.
"""

from __future__ import annotations

import argparse
import json
import pathlib

from autotrain_jax import controllers
from autotrain_jax.experiments import report, screening

ROOT = pathlib.Path(__file__).resolve().parent
SUITE = ROOT / "suite-v2"
OUT = ROOT / "recipe-search"


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
        saved = screening.screen(run, earlier, OUT, args.data_dir)
        (OUT / f"{run.name}.json").write_text(json.dumps(saved, indent=1))
        screening.validate(
            run.name, controllers.load(OUT / run.name), OUT, args.data_dir
        )
    for name in args.validate:
        path = OUT / name
        controller = controllers.load(path if path.is_dir() else name)
        screening.validate(name, controller, OUT, args.data_dir)
    command = "python benchmarks/recipe_search.py"
    page = screening.page(earlier, OUT, "benchmarks/suite-v2", command)
    (OUT / "README.md").write_text(page)


if __name__ == "__main__":
    main()
