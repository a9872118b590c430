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
    "folder", sorted(p.name for p in (ROOT / "benchmarks").glob("suite-v[3-9]*"))
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
    """The README's suite block is the default's row of suite v9, which ran it
    from the committed folder that the package ships under its name."""
    import jax
    import numpy as np

    from autotrain_jax import controllers

    readme = ROOT / "README.md"
    saved = ROOT / "benchmarks" / "suite-v9" / "suite.json"
    v9 = report.from_json(saved.read_text())
    folder = ROOT / "benchmarks" / "meta-train-factors" / "ensemble-nostop"
    shipped, ran = controllers.load(controllers.DEFAULT), controllers.load(folder)
    assert shipped.settings == ran.settings and shipped.members == ran.members
    weights = [jax.tree.leaves((c.agent_params, c.obs_stats)) for c in (shipped, ran)]
    for a, b in zip(*weights, strict=True):
        np.testing.assert_array_equal(a, b)
    controller = f"controller {folder.name}"
    assert controller in report.controller_rows(v9)
    assert readme.read_text() == report.update_readme(readme, v9, controller)
    run = v9["provenance"]  # the block says when and where the suite ran
    assert f"Suite v9 (run {run['date']} on {run['machine']})," in readme.read_text()


def test_the_readme_wall_times_are_generated_from_the_committed_runs():
    readme = ROOT / "README.md"
    assert readme.read_text() == report.update_wall_times(readme)
    said = report.wall_times(ROOT)
    assert "`examples/meta_train.py` 18.3 min (" in said  # its file names no CPU
    assert "--recipe meta-mix-grouped` 17.1-19.0 min AVX-512 (" in said
    assert "--recipe meta-mix-wide` 35.1-49.9 min AVX2 (`benchmarks/meta-train-" in said
    default = "| `meta-mix-v4-nostop` (default) | `meta-mix-wide` | 0, 1, 2 | 3 × 1,024"
    assert default in readme.read_text()  # the shipped table, from the package
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


def test_the_rule_applies_each_condition_and_names_an_unknown_controller():
    """`report.rule` on suite v6's wider-moves run: seed 1 meets (a), (b) and
    (c) against the previous default, which, the other way round, fails (a)
    and (c); without seeds there is no (b)."""
    saved = ROOT / "benchmarks" / "suite-v6-factors" / "suite.json"
    v6 = report.from_json(saved.read_text())
    seeds = tuple(f"mix-grouped-seed-{s}-nostop" for s in (1, 0, 2))
    ships = report.rule(v6, seeds[0], "meta-mix-v2-nostop", seeds)
    assert ships.count(": nearer;") == 2 and ": not lower." in ships
    assert ships.endswith(
        f"every condition holds: {seeds[0]} replaces meta-mix-v2-nostop.**"
    )
    stays = report.rule(v6, "meta-mix-v2-nostop", seeds[0])
    assert "(b)" not in stays and ": not nearer;" in stays and ": lower." in stays
    assert stays.endswith(f"(a) and (c) fail: {seeds[0]} stays.**")
    with pytest.raises(ValueError, match=r"controllers must be among \['mix-grouped"):
        report.rule(v6, "meta-mix-v9", "meta-mix-v2-nostop")
    with pytest.raises(ValueError, match=r"task must be one of \['mnist-momentum-b128"):
        report.paired(v6, f"controller {seeds[0]}", "tuned cosine", "mnist-v9")


V6_FACTORS = "benchmarks/suite-v6-factors/suite.json"
SHIPPED = "benchmarks/main-example/shipped.json"


@pytest.mark.parametrize(
    "marker, file, generate",
    [
        (
            f"generated from {SHIPPED}",
            SHIPPED,
            report.task_table,
        ),
        (
            f"rule on {V6_FACTORS}, mix-grouped-seed-1-nostop over meta-mix-v2-nostop",
            V6_FACTORS,
            lambda r: report.rule(r, "mix-grouped-seed-1-nostop", "meta-mix-v2-nostop"),
        ),
    ],
    ids=["table", "rule"],
)
def test_a_pages_block_is_filled_even_empty_and_an_unended_one_is_named(
    marker, file, generate, tmp_path
):
    """`report.update_tables` fills a block (empty or stale) from its file,
    and raises naming a block with no end marker."""
    expected = generate(report.from_json((ROOT / file).read_text()))
    begin, end = f"<!-- b: {marker} -->\n", "<!-- end b -->"
    page = tmp_path / "page.md"
    for body in ("", "old\n"):
        page.write_text(f"text\n{begin}{body}{end}\nmore\n")
        filled = report.update_tables(page, ROOT)
        assert filled == f"text\n{begin}{expected}\n{end}\nmore\n"
    page.write_text(f"text\n{begin}old\n<!-- end other -->\n")
    with pytest.raises(ValueError, match=r"page.md: the blocks \['b'\] have no"):
        report.update_tables(page, ROOT)


def test_the_shipped_default_reran_suite_v6_bit_for_bit_as_the_rule_saw_it():
    """benchmarks/suite-v6-v3 (the README's block) ran the shipped
    meta-mix-v3-nostop on the same machine kind as the run the rule decided
    on: its every number equals the candidate's there, so the block reports
    the controller the rule chose."""
    import numpy as np

    def load(folder):
        return report.from_json(
            (ROOT / "benchmarks" / folder / "suite.json").read_text()
        )

    shipped, decided = load("suite-v6-v3"), load("suite-v6-factors")
    assert shipped["tasks"].keys() == decided["tasks"].keys()
    for task, result in shipped["tasks"].items():
        for lr0, rows in result["cells"].items():
            ours = rows["controller meta-mix-v3-nostop"]
            theirs = decided["tasks"][task]["cells"][lr0][
                "controller mix-grouped-seed-1-nostop"
            ]
            assert ours.keys() == theirs.keys()
            for key, values in ours.items():
                np.testing.assert_array_equal(values, theirs[key], err_msg=key)


@pytest.mark.parametrize(
    "figure", sorted(p.stem for p in (ROOT / "docs" / "figures").glob("*.svg"))
)
def test_a_docs_figure_draws_its_suites_numbers(figure, tmp_path):
    """docs/figures/NAME.svg is drawn from benchmarks/NAME/suite.json: drawn
    again for the controller its CSV names, its numbers (that CSV) are the
    committed ones, and the figure names every task."""
    from autotrain_jax.experiments import figures

    committed = ROOT / "docs" / "figures" / f"{figure}.svg"
    table = committed.with_suffix(".csv").read_text()
    controller = table.splitlines()[1].split(",")[0]
    argv = [str(ROOT / "benchmarks" / figure), "--out", str(tmp_path / "f.svg")]
    figures.main([*argv, "--controller", controller])
    drawn = (tmp_path / "f.csv").read_text()
    assert drawn == committed.with_suffix(".csv").read_text()
    results = report.from_json(
        (ROOT / "benchmarks" / figure / "suite.json").read_text()
    )
    svg = committed.read_text()
    assert all(task in svg for task in [*results["tasks"], figures.ALL])
    assert drawn.count("\n") == 1 + 3 * (len(results["tasks"]) + 1)


@pytest.mark.parametrize(
    "argv, named",
    [
        (["benchmarks/nope", "--out", "f.svg"], "folder must hold"),
        (["benchmarks/suite-v6-v3", "--out", "f.pdf"], "--out must end in"),
        (["benchmarks/suite-v6-v3", "--out", "f.svg", "--controller", "v9"], "v9"),
    ],
)
def test_the_figures_command_names_a_bad_argument(argv, named, capsys, monkeypatch):
    from autotrain_jax.experiments import figures

    monkeypatch.chdir(ROOT)
    with pytest.raises(SystemExit):
        figures.main(argv)
    assert named in capsys.readouterr().err


def test_the_report_command_writes_the_readme_block_of_the_controller_named(
    tmp_path, capsys, monkeypatch
):
    # (the wall times, which --readme also rewrites, are another test's)
    monkeypatch.setattr(report, "update_wall_times", lambda page: page.read_text())
    folder = tmp_path / "suite-v7"
    folder.mkdir()
    (folder / "suite.json").write_text(
        (ROOT / "benchmarks" / "suite-v7" / "suite.json").read_text()
    )
    readme = tmp_path / "README.md"
    readme.write_text("a\n<!-- suite v7: begin -->\nold\n<!-- suite v7: end -->\nb\n")
    report.main(
        [str(folder), "--readme", str(readme), "--controller", "meta-mix-v2-nostop"]
    )
    assert "controller meta-mix-v2-nostop: " in readme.read_text()
    assert "controller meta-mix-v3-nostop: " not in readme.read_text()
    with pytest.raises(SystemExit):
        report.main([str(folder), "--readme", str(readme), "--controller", "v9"])
    assert "--controller must be one of ['controller meta-mix-v3-nostop'" in (
        capsys.readouterr().err
    )
