"""The throughput benchmark as a library: `autotrain-jax bench` from an
installed package, its rows and ratios, and the table written from them."""

import json

from autotrain_jax import cli
from autotrain_jax.experiments import throughput


def test_bench_measures_the_env_against_its_ceilings_and_writes_the_table(tmp_path):
    out = tmp_path / "bench.json"
    sizes = ["--envs", "2", "--inner-steps", "2", "--steps", "1", "--repeats", "1"]
    cli.run(
        [
            "bench",
            "--preset",
            "tiny",
            *sizes,
            "--actions",
            "random,keep",
            "--out",
            str(out),
        ]
    )
    report = json.loads(out.read_text())
    assert report["command"].startswith("python throughput.py --preset tiny")
    assert [r["actions"] for r in report["env"]] == ["random", "keep"]
    for row in report["env"]:
        assert (row["num_envs"], row["inner_steps"]) == (2, 2)
        rate = row["env_steps_per_s"]
        assert rate > 0 and row["compile_s"] > 0
        assert (
            row["env_over_scored_ceiling"] == rate / row["scored_ceiling_steps_per_s"]
        )
    assert report["matmul_gflops"] > 0
    assert out.with_suffix(".md").read_text() == throughput.markdown(report)
