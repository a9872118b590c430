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
    assert sorted(summary["cells"]) == [0.01, 1.0]  # --eval-lrs
    rows = summary["cells"][0.01]
    assert list(rows) == [
        "controller PPO without stop",
        "controller PPO",
        "untuned constant",
        "tuned constant",
        "cocob (defaults)",
    ]
    for row in rows.values():
        assert len(row["test_accuracy"]) == 2  # --eval-seeds
        assert np.all((row["test_accuracy"] >= 0) & (row["test_accuracy"] <= 1))
    assert summary["tuned_lr"] in (0.01, 0.1, 1.0)  # the grid, initial LRs added
    assert np.all(rows["untuned constant"]["inner_steps"] == 8 * 10)  # horizon x T
    # from LR 0.01 the untuned constant learns; the tuned constant is at least
    # as good on the holdout it was chosen by
    assert np.mean(rows["untuned constant"]["test_accuracy"]) > 0.3
    tuned = np.mean(rows["tuned constant"]["holdout_accuracy"])
    assert tuned >= np.mean(rows["untuned constant"]["holdout_accuracy"])
    controller = controllers.load(out)
    assert np.isfinite(jax.tree.leaves(controller.agent_params)[0]).all()
    assert controller.provenance["env_steps"] == 4 * 4 * 2
    assert "| initial LR | controller PPO without stop | controller PPO |" in printed
    assert "| 0.01 |" in printed and "| 1 |" in printed
    assert (
        json.loads((out / "evaluation.json").read_text())["tuned_lr"]
        == (summary["tuned_lr"])
    )


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


def _events(folder):
    """(tag, step, value) of every scalar in the TensorBoard event files."""
    import struct

    from tensorboardX.proto.event_pb2 import Event

    scalars = []
    for path in sorted(folder.glob("events.out.tfevents.*")):
        raw = path.read_bytes()
        while raw:  # TFRecords: length, its CRC, the record, its CRC
            (length,) = struct.unpack("<Q", raw[:8])
            event = Event.FromString(raw[12 : 12 + length])
            raw = raw[16 + length :]
            for value in event.summary.value:
                scalars.append((value.tag, event.step, value.simple_value))
    return scalars


def test_log_dir_holds_every_metric_per_update_and_the_controlled_run(tiny_ppo_run):
    out, _, _ = tiny_ppo_run
    scalars = _events(out / "tensorboard")
    rows = json.loads((out / "metrics.json").read_text())
    for update, row in enumerate(rows, start=1):
        for name, value in row.items():
            if isinstance(value, float):
                (logged,) = [
                    v for t, s, v in scalars if (t, s) == (f"ppo/{name}", update)
                ]
                assert logged == pytest.approx(value, rel=1e-6)
            elif isinstance(value, list):
                assert (f"ppo/{name}/0", update) in {(t, s) for t, s, _ in scalars}
    with open(out / "controlled_run.csv") as f:
        steps = len(f.readlines()) - 1  # one row per env step after the header
    lrs = [(s, v) for t, s, v in scalars if t == "controlled_run/lr"]
    assert [s for s, _ in lrs] == list(range(steps))
