"""What JAX's persistent compilation cache saves a second run of the main job.

    python benchmarks/compile_cache.py --out benchmarks/compile-cache.json  # + .md

Runs a short `examples/ppo_mnist.py` (2 PPO updates, the evaluation's
smallest size) as a fresh process, in pairs: first with an empty cache folder
(`XDG_CACHE_HOME` in a new temporary folder: every program compiles), then
again with the folder the first run filled. The short run is almost all
compiles, so its wall time is how much sooner a second run of the full job
starts training. Each figure is the median over `--pairs` interleaved pairs.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
JOB = [
    "examples/ppo_mnist.py",
    "--num-updates", "2",
    "--num-envs", "8",
    "--num-steps", "8",
    "--eval-seeds", "2",
    "--eval-rows", "tuned constant",
    "--quiet",
]  # fmt: skip


def wall_time(cache_home: str, out: str) -> float:
    """Seconds one run of the job takes as a fresh process."""
    env = {**os.environ, "XDG_CACHE_HOME": cache_home}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    env.pop("AUTOTRAIN_NO_COMPILE_CACHE", None)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, *JOB, "--out", out],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def markdown(results: dict) -> str:
    """The page of `results` (the JSON's content)."""
    cold, warm = results["cold_s"], results["warm_s"]
    c, w = statistics.median(cold), statistics.median(warm)

    def each(times):
        return ", ".join(f"{t:.1f}" for t in times)

    return "\n".join(
        [
            f"Hardware: {results['machine']}; jax {results['jax']}; {results['date']}",
            f"Command: `{results['command']}` (median of {len(cold)} interleaved "
            f"pairs; the job: `python {shlex.join(results['job'])}`)",
            "",
            "| run | wall time s | each pair |",
            "|---|---|---|",
            f"| first (empty cache) | {c:.1f} | {each(cold)} |",
            f"| second (cache filled) | {w:.1f} | {each(warm)} |",
            "",
            f"The second run takes {w / c:.2f}x the first's time "
            f"({c / w:.1f}x sooner).",
            "",
        ]
    )


def main(argv=None) -> dict:
    from autotrain_jax.experiments.provenance import stamp

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--out", type=pathlib.Path, default=None)
    args = parser.parse_args(argv)
    cold, warm = [], []
    for _ in range(args.pairs):
        with (
            tempfile.TemporaryDirectory() as cache,
            tempfile.TemporaryDirectory() as run,
        ):
            cold.append(wall_time(cache, f"{run}/cold"))
            warm.append(wall_time(cache, f"{run}/warm"))
        print(f"first {cold[-1]:.1f} s, second {warm[-1]:.1f} s", flush=True)
    results = {**stamp(), "job": JOB, "cold_s": cold, "warm_s": warm}
    results["command"] = " ".join(
        ["python", pathlib.Path(__file__).name, *sys.argv[1:]]
    )
    print(markdown(results))
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
        args.out.with_suffix(".md").write_text(markdown(results))
    return results


if __name__ == "__main__":
    main()
