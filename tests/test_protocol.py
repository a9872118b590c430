"""The comparison protocol at toy sizes: its rows, their pairing and compute."""

import copy
import dataclasses
import json
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import autotrain_jax as at
from autotrain_jax import baselines, cli, controllers
from autotrain_jax.evaluation import evaluate_lrs, evaluate_many, summarize
from autotrain_jax.experiments import protocol, report
from autotrain_jax.rollout import rollout

TOY = {
    "name": "toy",
    "seed": 0,
    "seeds": 2,
    "data": {"train_size": 256, "holdout_size": 128},
    "common": {"label_noise": None},
    "initial_lrs": {"sgd-like": [0.001, 0.1]},
    "grid": [0.001, 0.01, 0.1],
    "tasks": {"toy": {"family": "sgd-like", "env": {"max_steps_in_episode": 3}}},
    "goals": {},
}
# The toy's controller: its fixed prior runs its own training distribution,
# whose budgets (10-30 blocks, momentum SGD) keep the toy fast; the default's
# reach 150 blocks over four optimizers.
TOY_CONTROLLER = "meta-tiny-v1-nostop"


@pytest.fixture(scope="module")
def box():
    """The tiny preset acting through continuous actions, 4-step episodes."""
    return at.make_env(
        "tiny", action_set="continuous", max_lr_factor=10.0, max_steps_in_episode=4
    )


def test_a_grid_of_initial_lrs_in_one_program_pairs_like_separate_runs(box):
    env, params = box
    keys = jax.random.split(jax.random.key(0), 2)
    # LR 0.1 is past this toy's stable range: its last-bit differences grow
    # (9 of 2,000 test images apart on an AVX2 machine), so pairing is shown at
    # stable LRs
    lrs = (1e-3, 1e-2)
    together = evaluate_lrs(
        env, params, {"keep": baselines.keep(env, params)}, keys, lrs
    )
    for lr in lrs:
        p = params.replace(initial_lr=lr)
        alone = evaluate_many(env, p, {"c": baselines.constant(env, p)}, keys)["c"]
        np.testing.assert_array_equal(together[lr]["keep"]["inner_steps"], 40)
        # two XLA programs (lax.map vs vmap) round differently in the last bits;
        # after 40 SGD steps a few of the 2,000 test images may flip
        np.testing.assert_allclose(
            together[lr]["keep"]["test_accuracy"], alone["test_accuracy"], atol=3e-3
        )
    assert not np.allclose(
        together[lrs[0]]["keep"]["test_accuracy"],
        together[lrs[1]]["keep"]["test_accuracy"],
    )


def test_cosine_from_start_follows_cosine_decay(box):
    env, params = box
    p = params.replace(initial_lr=0.05)
    absolute = baselines.cosine_decay(env, p, horizon=4)
    relative = baselines.cosine_from_start(env, p, horizon=4)
    lrs = [
        rollout(env, p, policy, jax.random.key(0))[0]["lr"]
        for policy in (absolute, relative)
    ]
    np.testing.assert_allclose(lrs[1], lrs[0], rtol=1e-5)
    assert float(lrs[0][-1]) < 0.05 * 0.2  # it decays


def test_pbt_members_start_spread_over_the_grid(box):
    env, params = box
    grid = (1e-3, 1e-2, 1e-1)
    states = baselines.pbt_rollout(
        env, params, jax.random.key(0), population=3, num_steps=0, initial_lrs=grid
    )
    np.testing.assert_allclose(states.lr, grid, rtol=1e-6)
    with pytest.raises(ValueError, match="initial_lrs"):
        baselines.pbt_rollout(env, params, jax.random.key(0), 4, initial_lrs=grid)


SHIPPED_SUITES = sorted(p.stem for p in protocol.SUITES.glob("*.json"))


def test_shipped_suites_load_and_bad_ones_name_themselves(tmp_path):
    assert "v7" in SHIPPED_SUITES
    for name in (s for s in SHIPPED_SUITES if s != "val"):
        suite = protocol.load_suite(name)
        assert len(suite.tasks) == 8 and suite.seeds >= 8 and len(suite.grid) >= 8
        for task in suite.tasks:
            assert set(suite.task_initial_lrs(task)) <= set(suite.grid)
    with pytest.raises(ValueError, match="suite must be one of"):
        protocol.load_suite("v99")
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({k: v for k, v in TOY.items() if k != "grid"}))
    with pytest.raises(ValueError, match=r"lacks the fields \['grid'\]"):
        protocol.load_suite(broken)


def test_no_task_is_in_two_shipped_suites():
    """Held out means held out: a task (its env settings) chosen on one suite
    (validation, or v2, which shaped recipes) never reports on another."""
    seen = {}
    for name in SHIPPED_SUITES:
        suite = protocol.load_suite(name)
        for task in suite.tasks:
            settings = json.dumps(suite.overrides(task), sort_keys=True)
            assert settings not in seen, (name, task, seen.get(settings))
            seen[settings] = (name, task)
    assert len(seen) == 76


@pytest.fixture(scope="module")
def toy_results(tmp_path_factory):
    path = tmp_path_factory.mktemp("suite") / "toy.json"
    path.write_text(json.dumps(TOY))
    trained = {"default": controllers.load(TOY_CONTROLLER)}
    mp = pytest.MonkeyPatch()  # two LR-free rows stand for all seven: compiles
    mp.setattr(protocol, "LR_FREE_OPTIMIZERS", ("cocob", "schedule_free_adamw"))
    try:
        yield protocol.run_suite(trained, protocol.load_suite(path))
    finally:
        mp.undo()


def test_every_row_of_the_protocol_is_in_every_cell(toy_results):
    task = toy_results["tasks"]["toy"]
    assert set(task["cells"]) == {0.001, 0.1}
    prior = toy_results["priors"]["default"]["lr"]
    for rows in task["cells"].values():
        assert list(rows) == [
            "controller default",
            "untuned constant",
            "tuned constant",
            "tuned cosine",
            f"fixed prior ({prior:g})",
            "cocob (defaults)",
            "schedule_free_adamw (defaults)",
            "PBT",
            "early stopping (restore)",
            "reduce on plateau",
        ]
        for row in rows.values():
            assert row["test_accuracy"].shape == (2,)
            assert np.all((row["test_accuracy"] > 0) & (row["test_accuracy"] <= 1))


def test_tuned_rows_are_the_grids_best_by_holdout_and_cost_the_grid(toy_results):
    task = toy_results["tasks"]["toy"]
    grid = task["grid"]
    for policy, row in (("constant", "tuned constant"), ("cosine", "tuned cosine")):
        holdout = {lr: grid[lr][policy]["holdout_accuracy"].mean() for lr in grid}
        best = max(holdout, key=holdout.get)
        chosen = task["cells"][0.1][row]
        np.testing.assert_array_equal(
            chosen["test_accuracy"], grid[best][policy]["test_accuracy"]
        )
        total = sum(grid[lr][policy]["inner_steps"] for lr in grid)
        np.testing.assert_array_equal(chosen["compute"], total)
    for lr0, rows in task["cells"].items():  # the untuned row: the grid's at lr0
        np.testing.assert_array_equal(
            rows["untuned constant"]["test_accuracy"],
            grid[lr0]["constant"]["test_accuracy"],
        )
    pbt = task["cells"][0.1]["PBT"]
    np.testing.assert_array_equal(pbt["compute"], 3 * 30)  # 3 members x 3 x T


def test_the_report_round_trips_and_shows_each_opponent(toy_results, tmp_path):
    report.write(toy_results, tmp_path)
    again = report.from_json((tmp_path / "suite.json").read_text())
    cell = again["tasks"]["toy"]["cells"][0.1]
    np.testing.assert_array_equal(
        cell["PBT"]["test_accuracy"],
        toy_results["tasks"]["toy"]["cells"][0.1]["PBT"]["test_accuracy"],
    )
    text = (tmp_path / "suite.md").read_text()
    rows = toy_results["tasks"]["toy"]["cells"][0.1]
    d = (
        rows["controller default"]["test_accuracy"]
        - rows["tuned cosine"]["test_accuracy"]
    )
    low = toy_results["tasks"]["toy"]["cells"][0.001]
    d_low = (
        low["controller default"]["test_accuracy"]
        - low["tuned cosine"]["test_accuracy"]
    )
    overall = (d + d_low) / 2  # per seed, averaged over the cells
    assert f"| tuned cosine | {100 * overall.mean():+.2f} pts |" in text
    assert f"| tuned cosine | {100 * d.mean():+.2f} pts |" in text
    assert "#### controller default vs each opponent, from all initial LRs" in text


def test_the_readme_table_has_one_column_per_initial_lr(toy_results):
    cells = toy_results["tasks"]["toy"]["cells"]  # initial LRs 0.001 and 0.1
    d = {
        lr0: rows["controller default"]["test_accuracy"]
        - rows["tuned cosine"]["test_accuracy"]
        for lr0, rows in cells.items()
    }
    table = report.by_initial_lr(toy_results, "controller default")
    row = next(x for x in table.splitlines() if x.startswith("| tuned cosine |"))
    columns = [c.strip() for c in row.split("|")[2:-1]]
    overall = (d[0.001] + d[0.1]) / 2  # per seed, averaged over the cells
    means = [100 * x.mean() for x in (d[0.001], d[0.1], overall)]
    assert [c.split(" ± ")[0] for c in columns[:3]] == [f"{m:+.2f}" for m in means]
    worst = min(d, key=lambda lr0: d[lr0].mean())
    assert columns[3] == f"{100 * d[worst].mean():+.2f} (toy @ {worst:g})"
    assert "from the lowest LR | from the highest LR | all | worst cell" in table


def test_the_task_table_shows_each_rows_accuracy_and_the_paired_gap(toy_results):
    task = toy_results["tasks"]["toy"]
    table = report.task_table(task).splitlines()
    assert table[0].startswith("| initial LR | controller default | untuned constant |")
    assert f"tuned constant (LR {task['tuned_lr']:g})" in table[0]
    rows = task["cells"][0.001]
    line = next(x for x in table if x.startswith("| 0.001 |"))
    columns = [c.strip() for c in line.split("|")[2:-1]]
    mine = rows["controller default"]["test_accuracy"]
    assert columns[0] == f"{100 * mine.mean():.1f}"
    cocob = rows["cocob (defaults)"]["test_accuracy"]
    gap = summarize(mine - cocob)
    expected = (
        f"{100 * cocob.mean():.1f} ({100 * gap['mean']:+.1f} ± {100 * gap['ci95']:.1f})"
    )
    assert columns[list(rows).index("cocob (defaults)")] == expected


def test_a_task_runs_only_the_rows_asked_for_and_names_unknown_ones():
    trained = {"default": controllers.load(TOY_CONTROLLER)}
    keys = jax.random.split(jax.random.key(0), 2)
    common = {"train_size": 256, "holdout_size": 128, "max_steps_in_episode": 2}
    with pytest.raises(ValueError, match="rows must be among.*'cocobb'"):
        protocol.compare_task(
            trained, common, (0.01,), (0.01,), keys, None, rows=("cocobb",)
        )
    task = protocol.compare_task(
        trained, common, (0.01,), (0.01, 0.1), keys, None, rows=("tuned constant",)
    )
    assert list(task["cells"][0.01]) == [
        "controller default",
        "untuned constant",
        "tuned constant",
    ]
    assert set(task["grid"][0.1]) == {"constant"}  # no cosine asked for


VERDICTS = ("above", "level with", "below")


def test_the_standing_sentence_follows_each_opponents_ci(toy_results):
    cells = toy_results["tasks"]["toy"]["cells"].values()
    sentence = report.standing(toy_results, "controller default")
    clauses = {}
    for clause in sentence.split(" is ", 1)[1].rstrip(".").split("; "):
        verdict = next(v for v in VERDICTS if clause.startswith(v))
        clauses[verdict] = clause.removeprefix(f"{verdict} ").split(", ")
    for opponent in report.opponents(toy_results):
        d = np.mean([report.diff(r, "controller default", opponent) for r in cells], 0)
        s = summarize(d)
        expected = (
            "above"
            if s["mean"] - s["ci95"] > 0
            else "below"
            if s["mean"] + s["ci95"] < 0
            else "level with"
        )
        assert opponent in clauses[expected], (opponent, sentence)


def test_the_readme_block_tables_every_opponent_not_beaten_and_no_other(toy_results):
    results = copy.deepcopy(toy_results)
    for task in results["tasks"].values():  # one opponent the controller beats
        for rows in task["cells"].values():
            rows["untuned constant"]["test_accuracy"] *= 0
    verdicts = report.verdicts(results, "controller default")
    block = report.readme_block(results, "controller default")
    tabled = {
        line.split("|")[1].strip()
        for line in block.split("mean over tasks")[1].splitlines()
        if line.startswith("| ") and "minus" not in line
    }
    assert tabled == {*verdicts["level with"], *verdicts["below"]}
    assert "untuned constant" in verdicts["above"] and tabled


def test_lr_free_rows_start_at_their_defaults(toy_results):
    del toy_results  # (fixture order) the row's env: LR 1 kept throughout
    trained = controllers.load(TOY_CONTROLLER)
    env, params = protocol.twin(
        trained,
        {"optimizer": "cocob", "initial_lr": 1.0, "lr_max": 10.0, **TOY["data"]},
        at.make_env("tiny", train_size=256, holdout_size=128)[1].data,
    )
    log, _ = rollout(env, params, baselines.keep(env, params), jax.random.key(0), 3)
    np.testing.assert_allclose(log["lr"], jnp.ones(3), rtol=1e-6)
    assert env.config.optimizer == "cocob"


def test_goals_are_judged_on_the_measured_differences(toy_results):
    cells = toy_results["tasks"]["toy"]["cells"].values()
    prior = np.mean(
        [report.diff(r, "controller default", "fixed prior") for r in cells], 0
    )
    text = report.goals(toy_results, "controller default")
    line = next(x for x in text.splitlines() if x.startswith("| 1."))
    half = stats.t.ppf(0.975, 1) * np.std(100 * prior, ddof=1) / np.sqrt(2)
    shown = re.search(r"\| ([+-]\d+\.\d\d) ± (\d+\.\d\d) pts \|", line).groups()
    # two decimals, rounded from float32 sums the report adds in its own order
    np.testing.assert_allclose(
        [float(x) for x in shown], [100 * prior.mean(), half], atol=0.0051
    )
    assert line.endswith("| met |" if 100 * prior.mean() >= 1 else "| missed |")


def test_the_cli_compare_names_bad_input_before_running(monkeypatch):
    def no_run(*args, **kwargs):
        raise AssertionError("the protocol ran before validation")

    monkeypatch.setattr(protocol, "fixed_prior", no_run)
    with pytest.raises(ValueError, match="suite must be one of"):
        cli.run(["compare", "--suite", "v99"])
    with pytest.raises(ValueError, match=r"tasks must be among .* got \['nope'\]"):
        cli.run(["compare", "--suite", "v2", "--tasks", "nope"])
    with pytest.raises(ValueError, match="--opponents must be a folder holding"):
        cli.run(["compare", "--opponents", "no-such-run"])


def test_compare_stamps_what_it_writes(toy_results, tmp_path, monkeypatch):
    """suite.json and suite.md say when, where and by which command they were
    written (here: a finished run continued, nothing rerun)."""
    path, out = tmp_path / "toy.json", tmp_path / "out"
    path.write_text(json.dumps(TOY))
    text = report.to_json(toy_results).replace('"default', f'"{controllers.DEFAULT}')
    report.write(
        report.from_json(text.replace("r default", "r " + controllers.DEFAULT)), out
    )
    monkeypatch.setattr(protocol, "fixed_prior", None)  # nothing may run
    monkeypatch.setattr(protocol, "compare_task", None)
    cli.run(["compare", "--suite", str(path), "--out", str(out)])
    saved = report.from_json((out / "suite.json").read_text())
    assert set(saved["provenance"]) == {"date", "machine", "jax", "command"}
    assert (out / "suite.md").read_text() == report.markdown(saved)
    assert f"Run {saved['provenance']['date']} on " in report.markdown(saved)


def test_a_continued_run_keeps_its_tasks_and_refuses_another_run(
    toy_results, tmp_path, monkeypatch
):
    path = tmp_path / "toy.json"
    path.write_text(json.dumps(TOY))
    trained = {"default": controllers.load(TOY_CONTROLLER)}
    saved = report.from_json(report.to_json(toy_results))

    def rerun(*args, **kwargs):
        raise AssertionError("a finished task ran again")

    monkeypatch.setattr(protocol, "compare_task", rerun)
    monkeypatch.setattr(protocol, "fixed_prior", rerun)
    continued = protocol.run_suite(trained, protocol.load_suite(path), done=saved)
    assert continued == saved
    path.write_text(json.dumps({**TOY, "seeds": 3}))
    with pytest.raises(ValueError, match=r"seeds: 2 -> 3"):
        protocol.run_suite(trained, protocol.load_suite(path), done=saved)
    path.write_text(json.dumps(TOY))
    other = {"v0": controllers.load("meta-tiny-v0")}
    with pytest.raises(ValueError, match=r"controllers: \['default'\] -> \['v0'\]"):
        protocol.run_suite(other, protocol.load_suite(path), done=saved)


@pytest.fixture(scope="module")
def added(toy_results, tmp_path_factory):
    """(suite, the toy's controller, its rows added again under another label)."""
    path = tmp_path_factory.mktemp("added") / "toy.json"
    path.write_text(json.dumps(TOY))
    suite = protocol.load_suite(path)
    default = controllers.load(TOY_CONTROLLER)
    rows = protocol.add_controllers({"again": default}, suite, toy_results, default)
    return suite, default, rows


def test_added_controllers_pair_with_the_earlier_opponents(toy_results, added):
    """The earlier run's own controller, added again under another label,
    reproduces its rows exactly: same seeds, data and twin env. The opponents
    are the earlier run's, and a controller trained on other settings is
    refused before anything runs."""
    suite, default, rows = added
    assert list(rows["tasks"]["toy"]["cells"][0.001]) == ["controller again"]
    joined = protocol.with_opponents(rows, toy_results)
    assert joined["priors"] == {"again": toy_results["priors"]["default"]}
    for lr0, rows in toy_results["tasks"]["toy"]["cells"].items():
        new = joined["tasks"]["toy"]["cells"][lr0]
        assert list(new) == ["controller again", *rows]
        for name in ("controller again", "controller default"):
            np.testing.assert_array_equal(
                new[name]["test_accuracy"], rows["controller default"]["test_accuracy"]
            )
        assert all(new[n] is r for n, r in rows.items() if not n.startswith("fixed"))
    other = {**default.settings, "history": 4, "observe_update": True}
    other = dataclasses.replace(default, settings=other)
    with pytest.raises(ValueError, match=r"'other'.* differs .* in \['history'\]"):
        protocol.add_controllers({"other": other}, suite, toy_results, default)


def test_added_controllers_continue_from_what_they_saved(
    toy_results, added, monkeypatch
):
    suite, default, rows = added
    saved = report.from_json(report.to_json(protocol.with_opponents(rows, toy_results)))

    def rerun(*args, **kwargs):
        raise AssertionError("a finished task ran again")

    monkeypatch.setattr(protocol, "controller_cells", rerun)
    continued = protocol.add_controllers(
        {"again": default}, suite, toy_results, default, done=saved
    )
    again = protocol.with_opponents(continued, toy_results)
    assert report.to_json(again) == report.to_json(saved)
    with pytest.raises(ValueError, match=r"controllers: \['again'\] -> \['other'\]"):
        protocol.add_controllers(
            {"other": default}, suite, toy_results, default, done=saved
        )
    with pytest.raises(ValueError, match=r"task 'toy' lacks \['controller other'\]"):
        protocol.add_controllers(
            {"again": default, "other": default},
            suite,
            toy_results,
            default,
            done=saved,
        )


def test_validation_gives_each_candidate_its_mean_holdout_accuracy(
    toy_results, tmp_path
):
    """Candidates run the suite's seeds and data as the protocol does (the
    earlier run's own controller reproduces its holdout accuracies exactly),
    and each gets the mean of its own holdout accuracies."""
    path = tmp_path / "toy.json"
    path.write_text(json.dumps(TOY))
    suite = protocol.load_suite(path)
    default = controllers.load(TOY_CONTROLLER)
    v0 = controllers.load("meta-tiny-v0")
    chosen = protocol.validate({"default": default, "v0": v0}, suite)
    cells = chosen["tasks"]["toy"]["cells"]
    for lr0, rows in toy_results["tasks"]["toy"]["cells"].items():
        np.testing.assert_array_equal(
            cells[lr0]["controller default"]["holdout_accuracy"],
            rows["controller default"]["holdout_accuracy"],
        )
    for label in ("default", "v0"):
        runs = [c[f"controller {label}"]["holdout_accuracy"] for c in cells.values()]
        assert chosen["holdout_accuracy"][label] == pytest.approx(np.mean(runs))
    assert chosen["holdout_accuracy"]["default"] != chosen["holdout_accuracy"]["v0"]


@pytest.mark.parametrize(
    "seen",
    [
        {"observe_update": True},
        {"observe_optimizer": True},
        {"observe_task": True},
        {"observation": "original"},
    ],
)
def test_settings_that_change_only_what_the_agent_sees_leave_every_row_as_it_was(
    seen,
):
    """Why `add_controllers` pairs a controller with other `OBSERVATION_ONLY`
    settings with the earlier opponents: the same rows, exactly, in its twin."""
    assert set(seen) <= set(protocol.OBSERVATION_ONLY)
    box = {"action_set": "continuous", "max_lr_factor": 10.0, "max_steps_in_episode": 4}
    keys = jax.random.split(jax.random.key(0), 2)
    rows = []
    base = {"observation": "scale_free"}
    for settings in (base, base | seen):
        env, params = at.make_env("tiny", **box, **settings)
        policies = {
            "keep": baselines.keep(env, params),
            "plateau": baselines.reduce_on_plateau(env, params),  # reads the score
        }
        rows.append(evaluate_lrs(env, params, policies, keys, (0.01, 0.3)))
    for lr0 in (0.01, 0.3):
        for name in ("keep", "plateau"):
            np.testing.assert_array_equal(
                rows[0][lr0][name]["test_accuracy"], rows[1][lr0][name]["test_accuracy"]
            )


def scheduled(controller, lr_schedule: str, **acting):
    """`controller` as if trained with `lr_schedule` (and the `acting`
    EnvParams): its settings and env."""
    settings = {**controller.settings, "lr_schedule": lr_schedule, **acting}
    config = dataclasses.replace(controller.env_config, lr_schedule=lr_schedule)
    return dataclasses.replace(controller, settings=settings, env_config=config)


def test_a_cosine_shaped_controller_runs_in_its_own_twin_beside_the_same_opponents():
    """A controller whose LR acts through a cosine, within its own bounds
    (`CONTROLLER_ONLY`), gets its greedy row in its own twin, even first; the
    opponents' rows are exactly what they are without it (they never see its
    schedule or bounds: the grid's LR 0.1 is not clipped to its 0.05)."""
    default = controllers.load(TOY_CONTROLLER)
    cosine = scheduled(default, "cosine", lr_max=0.05, initial_lr=(1e-4, 0.05))
    keys = jax.random.split(jax.random.key(0), 2)
    common = {"train_size": 256, "holdout_size": 128, "max_steps_in_episode": 3}
    args = (common, (0.01,), (0.01, 0.1), keys, None)
    rows = ("tuned constant", "tuned cosine", "cocob")
    both = protocol.compare_task(
        {"cosine": cosine, "default": default}, *args, rows=rows
    )
    alone = protocol.compare_task({"default": default}, *args, rows=rows)
    cell = both["cells"][0.01]
    assert list(cell)[:2] == ["controller cosine", "controller default"]
    for name, row in alone["cells"][0.01].items():
        np.testing.assert_array_equal(cell[name]["test_accuracy"], row["test_accuracy"])
    _, params = default.make_env(**common)
    own = protocol.greedy_rows({"cosine": cosine}, common, params.data, keys, (0.01,))
    np.testing.assert_array_equal(
        cell["controller cosine"]["holdout_accuracy"],
        own[0.01]["controller cosine"]["holdout_accuracy"],
    )
    assert not np.array_equal(  # its schedule acted
        cell["controller cosine"]["holdout_accuracy"],
        cell["controller default"]["holdout_accuracy"],
    )
    only = protocol.compare_task({"cosine": cosine}, *args, rows=("tuned constant",))
    assert list(only["cells"][0.01]) == [  # nothing else shares the opponents' twin
        "controller cosine",
        "untuned constant",
        "tuned constant",
    ]


def steering(controller, name: str = "schedule_free_adamw"):
    """`controller` as if trained to steer the LR-free optimizer `name`, its
    LR a multiple of the optimizer's default."""
    acting = {"initial_lr": (0.3, 3.0), "lr_min": 0.01, "lr_max": 10.0}
    return dataclasses.replace(
        controller, settings={**controller.settings, "optimizer": name, **acting}
    )


def test_a_controller_steering_an_lr_free_optimizer_runs_it_from_its_defaults(
    toy_results, tmp_path, monkeypatch
):
    """Added to a suite, a controller trained on schedule_free_adamw alone
    trains every task with it, from its defaults (LR 1) whatever the cell's
    initial LR: kept there, it is the LR-free row. Its fixed prior is a
    multiple of that default, run beside it (the opponents' grid lacks it)."""
    toy = copy.deepcopy(TOY)  # the shipped suites name each task's optimizer;
    toy["tasks"]["toy"]["env"]["optimizer"] = "momentum"  # the toy's, the preset's
    path = tmp_path / "toy.json"
    path.write_text(json.dumps(toy))
    suite = protocol.load_suite(path)
    default = controllers.load(TOY_CONTROLLER)
    steer = steering(default)
    assert protocol.steered(steer) == "schedule_free_adamw"
    assert protocol.steered(default) is None
    with monkeypatch.context() as m:  # the prior's grid, without running it
        runs = {}

        def grid_of(env, params, policies, keys, lrs):
            runs.update(optimizer=env.config.optimizer, lrs=tuple(lrs))
            return {lr: {"keep": {"holdout_accuracy": np.full(2, lr)}} for lr in lrs}

        m.setattr(protocol, "evaluate_lrs", grid_of)
        prior = protocol.fixed_prior(steer, suite.grid, seeds=2)
    assert runs == {"optimizer": "schedule_free_adamw", "lrs": protocol.STEERED_GRID}
    assert prior["optimizer"] == "schedule_free_adamw"
    assert prior["lr"] == max(protocol.STEERED_GRID)
    at_defaults = prior | {"lr": 1.0}
    monkeypatch.setattr(protocol, "fixed_prior", lambda *args: at_defaults)
    in_continuous = baselines.in_continuous

    def kept(policy, env, params):  # the controller, keeping its LR throughout
        return in_continuous(baselines.keep(env, params), env, params)

    monkeypatch.setattr(protocol.baselines, "in_continuous", kept)
    rows = protocol.add_controllers({"steer": steer}, suite, toy_results, default)
    added = protocol.with_opponents(rows, toy_results)
    label = "fixed prior (schedule_free_adamw x1)"
    for lr0, earlier in toy_results["tasks"]["toy"]["cells"].items():
        cell = added["tasks"]["toy"]["cells"][lr0]
        assert list(cell)[:2] == ["controller steer", label]
        assert not any(n.startswith("fixed prior (") for n in earlier if n in cell)
        mine = cell["controller steer"]["test_accuracy"]
        np.testing.assert_array_equal(mine, cell[label]["test_accuracy"])
        # evaluate_lrs and evaluate_many round differently in the last bits
        free = earlier["schedule_free_adamw (defaults)"]["test_accuracy"]
        np.testing.assert_allclose(mine, free, atol=0.01)
        assert np.all(earlier["controller default"]["test_accuracy"] != mine)
