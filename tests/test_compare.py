"""The comparison command end to end on `tiny`: the CI-sized version of the study."""

import json

import jax
import numpy as np
from helpers import load_script

import autotrain_jax as at
from autotrain_jax import baselines
from autotrain_jax.evaluation import evaluate


def test_comparison_runs_every_policy_on_tiny(tiny_ppo_run, tmp_path):
    policy_dir, _, _ = tiny_ppo_run
    compare = load_script("benchmarks/compare.py")
    argv = ["--tasks", "tiny", "--seeds", "2", "--policy", str(policy_dir)]
    compare.main([*argv, "--out", str(tmp_path)])

    rows = json.loads((tmp_path / "comparison.json").read_text())["tiny"]
    names = list(rows)
    assert names[:3] == [
        "PPO controller (run)",
        "constant LR 0.01 (preset)",
        next(n for n in names if n.startswith("tuned constant LR")),
    ]
    for expected in ("step decay", "cosine", "plateau", "early stopping", "random"):
        assert any(expected in name for name in names), expected
    assert names[-1] == "PBT (8 members; best)"
    for name, r in rows.items():
        assert len(r["test_accuracy"]) == 2, name
        assert all(0.0 < acc <= 1.0 for acc in r["test_accuracy"]), name
    horizon_steps = 8 * 10  # tiny: 8 env steps of T = 10
    assert rows["constant LR 0.01 (preset)"]["inner_steps"] == [horizon_steps] * 2
    assert rows["PBT (8 members; best)"]["inner_steps"] == [8 * horizon_steps] * 2
    assert all(n <= horizon_steps for n in rows["PPO controller (run)"]["inner_steps"])
    table = (tmp_path / "comparison.md").read_text()
    assert all(name in table for name in names)
    assert (tmp_path / "comparison.png").stat().st_size > 0

    # a row of the shared batch is what the policy gives on its own, and the random
    # policy re-expressed as continuous actions trains exactly as in its own set
    env, params = at.make_env("tiny")
    keys = jax.random.split(jax.random.key(2024), 2)  # the command's seeds
    own = evaluate(env, params, baselines.random_policy(env), keys)
    translated = rows["random (full action set)"]
    np.testing.assert_array_equal(own["inner_steps"], translated["inner_steps"])
    # two XLA programs may round the weights' last bits differently (more so
    # across CPUs): allow 2 of the 2,000 test predictions to flip
    np.testing.assert_allclose(
        own["test_accuracy"], translated["test_accuracy"], atol=1e-3
    )
