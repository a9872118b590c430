"""Controllers on a committed held-out suite, against what a practitioner runs.

    autotrain-jax compare --suite v2 --data-dir ../shared/data --out suite-v2
    python benchmarks/suite.py ...            # the same, from a source checkout

Runs `autotrain_jax.experiments.protocol` (every row it lists, paired seeds)
on each task of the suite (`autotrain_jax/experiments/suites/{suite}.json`,
committed before anything was evaluated on it) and writes suite.json (every
seed and grid row) and suite.md after each task. Launched again into the same
--out, it continues: the tasks already in suite.json are kept, not rerun
(the suite and the controllers must be the same).

With --opponents FOLDER (an earlier run's), only the controllers' rows run:
they are paired with that run's opponents, which are reused, not rerun
(`protocol.add_controllers`): 3-5 min for suite v2 on 2 cores. It too
continues when launched again into the same --out.
"""

from __future__ import annotations

import argparse
import pathlib

from autotrain_jax import compile_cache, controllers
from autotrain_jax.experiments import protocol, report
from autotrain_jax.experiments.provenance import stamp


def main(argv=None, prog=None):
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    parser.add_argument("--suite", default="v2", help="a shipped suite or a JSON file")
    parser.add_argument(
        "--controller",
        action="append",
        help="a shipped name or a run folder (repeatable; default: "
        f"{controllers.DEFAULT})",
    )
    parser.add_argument("--tasks", default=None, help="comma-separated; default all")
    parser.add_argument("--data-dir", default=None, help="folder of the .npz files")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("suite"))
    parser.add_argument(
        "--opponents",
        type=pathlib.Path,
        default=None,
        help="an earlier run's folder: reuse its opponents, run only the controllers",
    )
    parser.add_argument(
        "--no-compile-cache",
        action="store_true",
        help="do not use JAX's persistent compilation cache",
    )
    args = parser.parse_args(argv)
    compile_cache.enable(args.no_compile_cache)
    suite = protocol.load_suite(args.suite)
    names = args.controller or [controllers.DEFAULT]
    trained = {pathlib.Path(n).name: controllers.load(n) for n in names}
    tasks = None if args.tasks is None else args.tasks.split(",")

    def write(results):
        report.write({**results, "provenance": stamp()}, args.out)

    saved = args.out / "suite.json"
    done = report.from_json(saved.read_text()) if saved.exists() else None
    if args.opponents is not None:
        earlier = _earlier(args.opponents)
        reference = controllers.load(next(iter(earlier["priors"])))
        rows = protocol.add_controllers(
            trained,
            suite,
            earlier,
            reference,
            tasks,
            args.data_dir,
            on_task=lambda rows: write(protocol.with_opponents(rows, earlier)),
            done=done,
        )
        results = protocol.with_opponents(rows, earlier)
    else:
        results = protocol.run_suite(
            trained, suite, tasks, args.data_dir, on_task=write, done=done
        )
    write(results)
    print(report.markdown(results))
    return results


def _earlier(folder: pathlib.Path) -> dict:
    """The results in an earlier run's `folder`, or a ValueError naming it."""
    saved = folder / "suite.json"
    if not saved.is_file():
        raise ValueError(
            f"--opponents must be a folder holding suite.json, got {str(folder)!r}"
        )
    return report.from_json(saved.read_text())


if __name__ == "__main__":
    main()
