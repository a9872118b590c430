"""The PPO example end to end at toy sizes."""

import json

import jax
import numpy as np
import pytest

import autotrain_jax as at
from autotrain_jax import controllers
from autotrain_jax.experiments.train import main


def test_ppo_example_writes_its_outputs(tiny_ppo_run):
    out, summary, printed = tiny_ppo_run
    for name in (
        "config.json",
        "metrics.json",
        "learning_curve.png",
        "learning_curve.csv",
        "evaluation.json",
        "controlled_run.csv",
        "controlled_run.png",
        "controller.json",
        "policy.npz",
    ):
        assert (out / name).stat().st_size > 0, name
    rows = json.loads((out / "metrics.json").read_text())
    assert len(rows) == 2 and len(rows[0]["actions"]) == 11  # 3H + 2 with H = 3
    config = json.loads((out / "config.json").read_text())
    assert config["env"]["history"] == 3 and config["ppo"]["gamma"] == 1.0
    assert config["ppo"]["update_epochs"] == 2  # --ppo KEY=VALUE
    assert config["ppo"]["hidden"] == [32, 32]
    for name in ("controller", "constant_lr"):
        assert 0.1 < summary[name]["test_accuracy_mean"] <= 1.0
    assert summary["constant_lr"]["inner_steps_mean"] == 8 * 10  # horizon x T
    controller = controllers.load(out)
    assert np.isfinite(jax.tree.leaves(controller.agent_params)[0]).all()
    assert controller.provenance["env_steps"] == 4 * 4 * 2
    assert "PPO controller: test accuracy" in printed and "constant LR" in printed


def test_a_saved_controller_loads_for_a_matching_env_only(tiny_ppo_run):
    out, _, _ = tiny_ppo_run
    env, params = at.make_env("tiny")
    controller = controllers.load(out)
    controller.check_env(env)
    obs, _ = env.reset(jax.random.key(0), params)
    action = controller.policy(None, obs)
    assert action.shape == () and 0 <= int(action) < env.num_actions
    wider, _ = at.make_env("tiny", history=4)
    with pytest.raises(ValueError, match=r"history: 3 \(trained\), 4 \(env\)"):
        controller.check_env(wider)


def test_env_overrides_are_parsed_and_bad_ones_named(tmp_path):
    with pytest.raises(SystemExit):  # argparse: expected KEY=VALUE
        main(["--env", "train_size", "--out", str(tmp_path)], preset="tiny")
    with pytest.raises(ValueError, match="unknown settings"):
        main(["--env", "trian_size=400", "--out", str(tmp_path)], preset="tiny")
