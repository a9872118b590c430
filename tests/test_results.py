"""Committed results pages are what the report writes from the committed JSON."""

import pathlib

import pytest

from autotrain_jax.experiments import report

ROOT = pathlib.Path(__file__).parent.parent
SUITE_V2 = ROOT / "benchmarks" / "suite-v2"


@pytest.fixture(scope="module")
def suite_v2():
    return report.from_json((SUITE_V2 / "suite.json").read_text())


def test_the_committed_suite_page_is_generated_from_its_json(suite_v2):
    assert (SUITE_V2 / "suite.md").read_text() == report.markdown(suite_v2)


@pytest.mark.parametrize(
    "folder", sorted(p.name for p in (ROOT / "benchmarks").glob("suite-v[3-6]*"))
)
def test_every_later_suite_page_is_generated_from_its_json(folder):
    saved = ROOT / "benchmarks" / folder
    results = report.from_json((saved / "suite.json").read_text())
    assert (saved / "suite.md").read_text() == report.markdown(results)
    assert {"date", "machine", "command"} <= set(results["provenance"])


def test_a_partial_suite_run_says_so_on_its_page():
    saved = ROOT / "benchmarks" / "suite-v5" / "suite.json"
    results = report.from_json(saved.read_text())
    assert "Partial run" not in report.markdown(results)
    first = next(iter(results["tasks"]))
    results["tasks"] = {first: results["tasks"][first]}
    assert "**Partial run: 1 of 8 tasks so far**" in report.markdown(results)


def test_the_readme_shows_the_generated_suite_block_of_the_default():
    from autotrain_jax import controllers

    readme = ROOT / "README.md"
    saved = ROOT / "benchmarks" / "suite-v6" / "suite.json"
    v6 = report.from_json(saved.read_text())
    controller = report.controller_rows(v6)[0]
    assert controller == f"controller {controllers.DEFAULT}"
    assert readme.read_text() == report.update_readme(readme, v6, controller)
    run = v6["provenance"]  # the block says when and where the suite ran
    assert f"Suite v6 (run {run['date']} on {run['machine']})," in readme.read_text()


def test_the_readme_wall_times_are_generated_from_the_committed_runs():
    readme = ROOT / "README.md"
    assert readme.read_text() == report.update_wall_times(readme)
    assert "`examples/meta_train.py` 18.3 min" in report.wall_times(ROOT)
    rerun = report.rerun_sentence(ROOT / "benchmarks" / "main-example")
    assert "within 2.64 points of these, the opponents' identical" in rerun


def test_the_steer_examples_table_is_generated_from_its_json():
    import json

    from helpers import load_script

    folder = ROOT / "benchmarks" / "steer-examples"
    results = json.loads((folder / "results.json").read_text())
    markdown = load_script("benchmarks/steer_examples.py").markdown
    assert (folder / "results.md").read_text() == markdown(results)


def test_the_steer_seeds_tables_are_generated_from_their_json():
    import json

    from helpers import load_script

    markdown = load_script("benchmarks/steer_seeds.py").markdown
    saved_files = sorted((BENCHMARKS / "steer-seeds").glob("*.json"))
    assert saved_files
    for saved in saved_files:
        results = json.loads(saved.read_text())
        assert saved.with_suffix(".md").read_text() == markdown(results)


def test_the_recipe_search_page_is_generated_from_its_screens(suite_v2):
    from autotrain_jax.experiments import screening

    committed = ROOT / "benchmarks" / "recipe-search" / "README.md"
    command = "python benchmarks/recipe_search.py"
    page = screening.page(suite_v2, committed.parent, "benchmarks/suite-v2", command)
    assert committed.read_text() == page


# Each suite's recipes page, and screens it must table.
RECIPE_SCREENS = {
    "v3": {f"meta-mix{g}-s{seed}" for g in ("", "-grouped") for seed in range(3)}
    | {"meta-mix-cosine-s0", "meta-mix-cosine-s1", "meta-mix-grouped-cap-s0"}
    | {f"meta-mix-schedule-free-s{s}" for s in (0, 1, 2)}
    | {"meta-mix-s0-noreinit"}
    | {f"meta-mix-schedule-free-s{s}-noreinit" for s in (0, 1)},
    "v4": {f"meta-mix-cosine-s{s}" for s in (0, 1)}
    | {"meta-mix-grouped-s0", "meta-mix-grouped-cap-s0"}
    | {f"meta-mix-schedule-free-s{s}" for s in (0, 1, 2)},
}


@pytest.mark.parametrize("suite", sorted(RECIPE_SCREENS))
def test_the_recipes_pages_are_generated_from_their_files(suite):
    from helpers import load_script

    script = load_script("benchmarks/recipe_seeds.py")
    opponents, out = script.folders(suite)
    earlier = report.from_json((opponents / "suite.json").read_text())
    assert (out / "README.md").read_text() == script.page(earlier)
    assert {path.stem for path in out.glob("*.json")} == RECIPE_SCREENS[suite]


# Each page's evaluate tables (`report.TABLE_BLOCK`), by the files they show.
EVALUATE_TABLES = {
    "README.md": ["benchmarks/main-example/evaluation.json"],
    "docs/controllers.md": [
        "benchmarks/main-example/shipped.json",
        "benchmarks/meta-train-mix-grouped/versus-default.json",
    ],
    "docs/results.md": [
        f"benchmarks/default-by-optimizer/{name}.json"
        for name in ("sgd", "momentum", "adam", "rmsprop")
    ]
    + [
        f"benchmarks/meta-train-factors/{name}.json"
        for name in (
            "versus-meta-tiny-v1",
            "versus-mix-grouped",
            "versus-mix-grouped-seed-1",
            "versus-mix-grouped-seed-2",
        )
    ],
}


@pytest.mark.parametrize("page", sorted(EVALUATE_TABLES))
def test_the_pages_evaluate_tables_are_generated_from_their_json(page):
    path = ROOT / page
    shown = [m["file"] for m in report.TABLE_BLOCK.finditer(path.read_text())]
    assert shown == EVALUATE_TABLES[page]
    assert path.read_text() == report.update_tables(path, ROOT)


BENCHMARKS = ROOT / "benchmarks"


@pytest.mark.parametrize(
    "committed",
    sorted(p.name for p in BENCHMARKS.glob("*.json")),
)
def test_the_committed_throughput_tables_are_generated_from_their_json(committed):
    import json

    from helpers import load_script

    report = json.loads((BENCHMARKS / committed).read_text())
    script = report["command"].split()[1]  # "python <script>.py ..."
    markdown = load_script(f"benchmarks/{script}").markdown
    assert (BENCHMARKS / committed).with_suffix(".md").read_text() == markdown(report)
