"""Shared fixtures: the tiny preset on embedded MNIST, compiled once per session."""

import contextlib
import io
import os
import tempfile

# The suite passes whatever the user's environment holds: the project's own
# variables (a data folder, a cluster to join) are cleared before it imports.
for name in [n for n in os.environ if n.startswith("AUTOTRAIN_")]:
    del os.environ[name]

# One persistent compilation cache for this test session and the subprocesses it
# starts (crash and sharding checks), so identical programs compile once. Every
# program enters it, however quick to compile: the suite makes ~6,400 compile
# requests, most of them small programs that each test file compiles again after
# `_drop_compiled_programs` (below), and loading them is quicker (the whole
# suite, one run each on a 2-core AVX2 machine: 14 min 5 s with a 1 s threshold,
# 13 min 21 s without).
os.environ.setdefault(
    "JAX_COMPILATION_CACHE_DIR", tempfile.mkdtemp(prefix="autotrain-jax-cache-")
)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
# At test sizes compiling costs more than running: XLA's CPU backend without
# LLVM's optimisation passes compiles a vmapped `tiny` step in 3.4 s instead of
# 7.5 s and runs it 1.8x slower, and the suite takes 11 min instead of 24 on 2
# cores. The programs are the same; only their machine code is less optimised.
# Set the level yourself (XLA_FLAGS=--xla_backend_optimization_level=2) to test
# the optimised backend; benchmarks and users always get XLA's default.
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = " ".join(
        [os.environ.get("XLA_FLAGS", ""), "--xla_backend_optimization_level=0"]
    ).strip()

import jax  # noqa: E402
import pytest  # noqa: E402

# XLA's CPU client runs computations asynchronously by default, so a program
# that never finishes shows up at the next computation that waits for it. Run
# them inline, so that a hang is reported at the call that hangs. Two hangs
# once blamed on async dispatch (jax-ml/jax#25861) came right after the
# controllers page's vmapped PPO, most likely the deadlock of PPO's batched
# initializer (see `agents/ppo/networks._orthogonal`), found when inline runs
# hung at that call. Set before the CPU client exists.
jax.config.update("jax_cpu_enable_async_dispatch", False)
from hypothesis import settings  # noqa: E402

# Property tests: 8 derandomized examples by default (~75 s on 2 cores, so CI
# stays well under its budget); HYPOTHESIS_PROFILE=thorough draws 200 at random.
settings.register_profile("default", max_examples=8, derandomize=True)
settings.register_profile("thorough", max_examples=200, derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

import autotrain_jax as at  # noqa: E402
from autotrain_jax import cli  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def _drop_compiled_programs():
    """Drops JAX's in-memory compiled programs after each test file.

    Every compiled program keeps memory mappings. A worker that runs half the
    suite without dropping them reached ~32,000 mappings (RSS 5.2 GB) of the
    kernel's vm.max_map_count (65,530); past it XLA's LLVM fails ("Cannot
    allocate memory") and the worker dies. Programs used again by a later file
    reload from the persistent compilation cache set above.
    """
    yield
    jax.clear_caches()


@pytest.fixture(scope="session")
def tiny():
    """(env, params, jitted reset, jitted step_env) for the tiny preset."""
    env, params = at.make_env("tiny")
    return env, params, jax.jit(env.reset), jax.jit(env.step_env)


@pytest.fixture(scope="session")
def tiny_ppo_run(tmp_path_factory):
    """`autotrain-jax train` (the examples' code) at toy sizes on `tiny`:
    (run dir, summary, printed text)."""
    out = tmp_path_factory.mktemp("ppo") / "run"
    argv = ["train", "tiny", "--num-envs", "4", "--num-steps", "4"]
    argv += ["--num-updates", "2", "--checkpoint-every", "1"]
    argv += ["--ppo", "update_epochs=2", "--ppo", "hidden=(32, 32)"]
    argv += ["--eval-seeds", "2", "--eval-lrs", "0.01,1", "--eval-grid", "0.1"]
    argv += ["--out", str(out), "--quiet"]
    argv += ["--log-dir", str(out / "tensorboard")]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        summary = cli.run(argv)
    return out, summary, printed.getvalue()
