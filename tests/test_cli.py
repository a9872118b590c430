"""The `autotrain-jax` command line (its `train` runs in conftest's tiny_ppo_run)."""

import copy
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from autotrain_jax import cli, presets
from autotrain_jax.experiments import report


def test_the_console_script_is_installed_and_lists_its_commands():
    # beside the interpreter, so it is found in a venv that is not activated
    script = pathlib.Path(sys.executable).parent / "autotrain-jax"
    assert script.is_file(), "pip install -e . installs the autotrain-jax script"
    shown = subprocess.run(
        [script, "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("envs", "train", "evaluate", "compare", "bench"):
        assert command in shown


def test_envs_lists_every_preset_with_its_settings(capsys):
    cli.run(["envs"])
    shown = capsys.readouterr().out
    for name in ("mnist-mlp", "cifar10-cnn", "tiny"):
        assert f"{name}: " in shown
    assert "inner_steps = 10" in shown and "max_steps_in_episode = 8" in shown


def _no_data(*args, **kwargs):
    raise AssertionError("data was read before the settings were checked")


def test_bad_ppo_and_env_settings_fail_before_any_data_is_read(monkeypatch, tmp_path):
    monkeypatch.setattr(presets, "load_dataset", _no_data)
    out = str(tmp_path / "run")
    with pytest.raises(ValueError, match="unknown --ppo fields.*'lr'"):
        cli.run(["train", "tiny", "--ppo", "learning_rate=1e-3", "--out", out])
    with pytest.raises(ValueError, match="num_minibatches"):
        cli.run(["train", "tiny", "--ppo", "num_minibatches=7", "--out", out])
    with pytest.raises(ValueError, match="initial_lr"):
        cli.run(["train", "tiny", "--env", "initial_lr=-1", "--out", out])
    with pytest.raises(ValueError, match="--eval-rows must be among.*'cocobb'"):
        cli.run(["train", "tiny", "--eval-rows", "cocobb", "--out", out])
    with pytest.raises(ValueError, match="--eval-seeds must be >= 2"):
        cli.run(["train", "tiny", "--eval-seeds", "1", "--out", out])
    with pytest.raises(SystemExit):  # argparse: learning rates must be > 0
        cli.run(["train", "tiny", "--eval-lrs", "0.01,-1", "--out", out])
    with pytest.raises(ValueError, match="optimizer.*adamx"):
        cli.run(["evaluate", "meta-tiny-v0", "--env", "optimizer=adamx"])
    with pytest.raises(ValueError, match="rows must be among.*'cocobb'"):
        cli.run(["evaluate", "meta-tiny-v0", "--rows", "cocobb"])
    with pytest.raises(SystemExit):  # argparse: KEY=VALUE expected
        cli.run(["evaluate", "meta-tiny-v0", "--env", "initial_lr"])
    with pytest.raises(SystemExit):
        cli.run(["evaluate", "meta-tiny-v0", "--seeds", "1"])


def test_evaluate_prints_the_main_examples_table_for_a_controller(capsys, monkeypatch):
    results = cli.run(
        ["evaluate", "meta-tiny-v0", "--seeds", "2", "--lrs", "0.01,1"]
        + ["--rows", "cocob", "--env", "max_steps_in_episode=3", "--json"]
    )
    assert capsys.readouterr().out == report.to_json(results) + "\n"
    assert {"date", "machine", "jax"} <= set(results["provenance"])
    assert results["provenance"]["command"] == (
        "autotrain-jax evaluate meta-tiny-v0 --seeds 2 --lrs 0.01,1 --rows cocob "
        "--env max_steps_in_episode=3 --json"
    )
    assert sorted(results["cells"]) == [0.01, 1.0]
    rows = results["cells"][0.01]
    assert list(rows) == [
        "controller meta-tiny-v0",
        "untuned constant",
        "cocob (defaults)",
    ]
    for row in rows.values():
        assert len(row["test_accuracy"]) == 2
        assert all(0.0 < a <= 1.0 for a in row["test_accuracy"])
    assert list(rows["untuned constant"]["inner_steps"]) == [3 * 10] * 2  # budget x T
    # Without --json, the same results print as the table (not evaluated again).
    monkeypatch.setattr(cli, "evaluate", lambda *a, **k: copy.deepcopy(results))
    cli.run(["evaluate", "meta-tiny-v0", "--seeds", "2", "--lrs", "0.01,1"])
    assert capsys.readouterr().out == report.task_table(results) + "\n"


def test_evaluate_puts_controllers_that_see_differently_on_one_task(monkeypatch):
    def no_load(*args, **kwargs):
        raise AssertionError("data loaded before the tasks were checked")

    monkeypatch.setattr(presets, "load_dataset", no_load)
    with pytest.raises(ValueError, match=r"differ in \['max_steps_in_episode', 'optim"):
        cli.run(["evaluate", "meta-mix-v2-nostop", "meta-tiny-v1-nostop"])
    with pytest.raises(ValueError, match="distinct"):
        cli.run(["evaluate", "meta-tiny-v0", "meta-tiny-v0"])
    monkeypatch.undo()
    # The default watches the weights (observe_update), v1 does not: each runs
    # in its own twin of one task, on the same seeds as when run alone.
    task = ["--seeds", "2", "--lrs", "0.01,1", "--rows", "cocob"]
    task += ["--env", "optimizer=momentum", "--env", "max_steps_in_episode=3"]
    both = cli.run(["evaluate", "meta-mix-v2-nostop", "meta-tiny-v1-nostop", *task])
    alone = cli.run(["evaluate", "meta-tiny-v1-nostop", *task])
    for lr0, rows in both["cells"].items():
        assert list(rows) == [
            "controller meta-mix-v2-nostop",
            "controller meta-tiny-v1-nostop",
            "untuned constant",
            "cocob (defaults)",
        ]
        for name, row in alone["cells"][lr0].items():
            for metric in ("test_accuracy", "env_steps"):
                np.testing.assert_array_equal(rows[name][metric], row[metric])


def test_the_console_script_exits_0_whatever_the_command_returns(monkeypatch):
    # `sys.exit(main())` is how console scripts end: a returned summary would
    # be printed to stderr and exit with status 1.
    monkeypatch.setattr(cli, "run", lambda argv: {"a": "summary"})
    assert cli.main() is None
