"""The held-out suite end to end at toy sizes, and its reuse of baseline rows."""

import json
import shutil

import numpy as np
import pytest
from helpers import load_script
from scipy import stats

from autotrain_jax import controllers


@pytest.fixture
def heldout(monkeypatch):
    module = load_script("benchmarks/heldout.py")
    monkeypatch.setattr(module, "TASKS", {"toy": {"max_steps_in_episode": 3}})
    monkeypatch.setattr(module, "DATA", {"train_size": 256, "holdout_size": 128})
    monkeypatch.setattr(module, "INITIAL_LRS", (1e-2, 1e-4))
    monkeypatch.setattr(module, "GRID", (1e-3, 1e-2, 1e-1))
    return module


def test_every_row_runs_and_cached_baselines_are_reused(
    heldout, tiny_ppo_run, tmp_path
):
    run = tiny_ppo_run[0]
    first = heldout.main(
        ["--controller", str(run), "--seeds", "2", "--out", str(tmp_path / "a")]
    )
    cells = first["toy"]["cells"]
    assert set(cells) == {1e-2, 1e-4}
    names = list(cells[1e-2])
    assert names[0] == f"controller {run.name}" and "untuned constant" in names
    assert any(n.startswith("tuned constant") for n in names)
    assert first["toy"]["tuned_lr"] in (1e-3, 1e-2, 1e-1)
    for rows in cells.values():
        for r in rows.values():
            assert np.all((r["test_accuracy"] > 0) & (r["test_accuracy"] <= 1))
    report = (tmp_path / "a" / "heldout.md").read_text()
    assert "| controller" in report
    per_task = report.split("### Per task")[1].splitlines()
    assert per_task[4].startswith(f"| controller {run.name} | ")
    assert per_task[4].endswith(" | toy |")  # the worst of one task
    tuned = {
        lr0: next(n for n in rows if n.startswith("tuned"))
        for lr0, rows in cells.items()
    }
    diff = np.mean(
        [
            rows[names[0]]["test_accuracy"] - rows[tuned[lr0]]["test_accuracy"]
            for lr0, rows in cells.items()
        ],
        0,
    )  # per seed, averaged over the initial LRs
    half = stats.t.ppf(0.975, 1) * diff.std(ddof=1) / np.sqrt(2)
    assert f"| {diff.mean():+.4f} ± {half:.4f} |" in per_task[4]

    again = tmp_path / "again"  # the same controller under another name,
    shutil.copytree(run, again)  # as if trained with noisy labels
    meta = json.loads((again / "controller.json").read_text())
    meta["settings"]["label_noise"] = [0.0, 0.8]
    (again / "controller.json").write_text(json.dumps(meta))
    cached = tmp_path / "cached.json"  # marked, to tell reuse from a rerun
    saved = json.loads((tmp_path / "a" / "heldout.json").read_text())
    saved["tasks"]["toy"]["cells"]["0.01"]["cosine decay"]["test_accuracy"] = [0.5] * 2
    cached.write_text(json.dumps(saved))
    argv = ["--controller", str(again), "--seeds", "2", "--baselines", str(cached)]
    second = heldout.main([*argv, "--out", str(tmp_path / "b")])
    for lr0, rows in second["toy"]["cells"].items():
        assert list(rows)[0] == "controller again"  # new rows first, old ones kept
        old = cells[lr0]
        np.testing.assert_array_equal(  # paired: same seeds, policy, clean labels
            rows["controller again"]["test_accuracy"],
            old[f"controller {run.name}"]["test_accuracy"],
        )
        for name in names:
            expected = old[name]["test_accuracy"]
            if (lr0, name) == (1e-2, "cosine decay"):
                expected = [0.5, 0.5]  # the cached row, not a rerun
            np.testing.assert_array_equal(rows[name]["test_accuracy"], expected)
    saved = json.loads((tmp_path / "b" / "heldout.json").read_text())
    assert saved["seeds"] == 2
    with pytest.raises(SystemExit, match="seeds"):
        heldout.main([*argv[:2], "--seeds", "3", "--baselines", str(cached)])
    saved["settings"]["reward"] = "relative"  # a setting the baselines depend on
    cached.write_text(json.dumps(saved))
    with pytest.raises(SystemExit, match="settings"):
        heldout.main([*argv, "--out", str(tmp_path / "c")])


def test_variants_compare_every_subset_of_special_actions_on_paired_seeds(
    tiny_ppo_run, capsys
):
    variants = load_script("benchmarks/variants.py")
    report = variants.main(["--controller", str(tiny_ppo_run[0]), "--seeds", "2"])
    assert list(report) == [
        "as trained",
        "without reinit",
        "without stop",
        "without reinit and stop",
    ]
    assert report["as trained"]["vs_as_trained"]["mean"] == 0.0
    masked = variants.variants(controllers.load(tiny_ppo_run[0]))
    assert masked["without reinit and stop"].disabled == ("reinit", "stop")
    assert masked["without stop"].disabled == ("stop",)
    assert all(0 < r["holdout_accuracy"] <= 1 for r in report.values())
    assert "best by holdout accuracy" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="--seeds must be >= 2"):
        variants.main(["--controller", str(tiny_ppo_run[0]), "--seeds", "1"])
