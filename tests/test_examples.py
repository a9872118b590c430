"""The PPO example end to end at toy sizes."""

import json

import jax
import numpy as np

from autotrain_jax.agents.ppo.experiment import load_policy


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
    ):
        assert (out / name).stat().st_size > 0, name
    rows = json.loads((out / "metrics.json").read_text())
    assert len(rows) == 2 and len(rows[0]["actions"]) == 11  # 3H + 2 with H = 3
    config = json.loads((out / "config.json").read_text())
    assert config["env"]["history"] == 3 and config["ppo"]["gamma"] == 1.0
    for name in ("controller", "constant_lr"):
        assert 0.1 < summary[name]["test_accuracy_mean"] <= 1.0
    assert summary["constant_lr"]["inner_steps_mean"] == 8 * 10  # horizon x T
    policy = load_policy(out / "policy")
    assert np.isfinite(jax.tree.leaves(policy["agent_params"])[0]).all()
    assert "PPO controller: test accuracy" in printed and "constant LR" in printed
