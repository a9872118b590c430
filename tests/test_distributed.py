"""Sharded runs equal the unsharded one: over 2 devices of one process, and over
2 processes of 2 devices each, joined by jax.distributed. The env batch split
over them steps the same envs, PPO learns the same agent, and a 2-process run
killed mid-way resumes from its checkpoint.

The processes talk over the loopback (a port chosen at run time), as hosts of a
cluster would over the network; `distributed_worker.py` is each process. Every
process simulates 2 CPU devices (`--xla_force_host_platform_device_count`).
"""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from autotrain_jax import distributed

WORKER = pathlib.Path(__file__).with_name("distributed_worker.py")
# PPO's losses and the observation statistics are means over the env batch: with
# two processes each sums its half and the halves are then added, a different
# order of float additions than one process's. The agents so differ in the last
# bits (1.2e-7 measured after 4 updates); 1e-5 leaves room for other CPUs.
PPO_TOLERANCE = 1e-5
ENV_TOLERANCE = 1e-5
TWO_DEVICES = "--xla_force_host_platform_device_count=2"


def _launch(out: pathlib.Path, num_processes: int, *flags: str, **extra_env):
    """Starts the worker as `num_processes` processes; returns the Popen objects."""
    out.mkdir(exist_ok=True)
    xla_flags = f"{os.environ.get('XLA_FLAGS', '')} {TWO_DEVICES}".strip()
    joins = distributed.local_environments(num_processes)
    processes = []
    for process_id, join in enumerate(joins):  # one process: no run to join
        environ = {**os.environ, **extra_env, "XLA_FLAGS": xla_flags, **join}
        log = open(out / f"log-{process_id}.txt", "a")  # noqa: SIM115
        command = [sys.executable, str(WORKER), str(out), *flags]
        processes.append(subprocess.Popen(command, env=environ, stdout=log, stderr=log))
    return processes


def _wait(processes, out: pathlib.Path, timeout: float = 420) -> None:
    for process_id, process in enumerate(processes):
        code = process.wait(timeout=timeout)
        log = (out / f"log-{process_id}.txt").read_text()[-3000:]
        assert code == 0, f"process {process_id} exited with {code}:\n{log}"


def _env_rows(out: pathlib.Path, placement: str, num_processes: int):
    """Every step's observations and rewards of all 8 envs, joined from the rows
    each process wrote, and the devices the arrays were split over."""
    parts = [np.load(out / f"env-{placement}-{i}.npz") for i in range(num_processes)]
    rows = np.concatenate([part["rows"] for part in parts])
    assert sorted(rows) == list(range(8)), rows  # each env stepped by one process
    order = np.argsort(rows)
    joined = {
        name: np.concatenate([part[name] for part in parts], axis=1)[:, order]
        for name in ("obs", "reward")
    }
    return joined, {int(part["shards"]) for part in parts}


def _ppo(out: pathlib.Path, process_id: int = 0):
    """(agent parameter leaves, report) that process `process_id` wrote."""
    leaves = np.load(out / f"ppo-{process_id}.npz")
    report = json.loads((out / f"ppo-{process_id}.json").read_text())
    return [leaves[name] for name in leaves.files], report


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """One process: the unsharded reference, and the envs over its 2 devices."""
    out = tmp_path_factory.mktemp("single")
    _wait(_launch(out, 1, "--env", "--ppo"), out)
    return out


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Two processes with 4 envs each, 2 per device; PPO killed after its first
    checkpoint (process 1 with SIGKILL, then process 0, as a scheduler would),
    then relaunched on both to resume."""
    out = tmp_path_factory.mktemp("pair")
    processes = _launch(out, 2, "--env", "--ppo", WORKER_SLEEP="30")
    first = out / "checkpoints" / "2"  # orbax renames it to this once complete
    deadline = time.time() + 420
    while not first.is_dir() and time.time() < deadline:
        assert all(p.poll() is None for p in processes), (out / "log-0.txt").read_text()
        time.sleep(0.2)
    assert first.is_dir(), "no checkpoint within the deadline"
    processes[1].send_signal(signal.SIGKILL)
    processes[0].send_signal(signal.SIGKILL)
    assert [p.wait(timeout=60) for p in processes] == [-signal.SIGKILL] * 2
    assert not (out / "ppo-0.json").exists()  # it had not finished
    _wait(_launch(out, 2, "--ppo"), out)
    return out


def test_sharded_envs_step_as_the_unsharded_ones(single, pair):
    reference, shards = _env_rows(single, "none", 1)
    assert shards == {1}
    # Each env's computation is the same on the same inputs, whichever device
    # or process runs it, but XLA compiles a vmapped batch of 2 envs (per device)
    # to other matmul kernels than one of 8, which add in another order: the
    # observations differ in the last bit (1.2e-7 measured), hence ENV_TOLERANCE.
    for out, placement, processes, devices in (
        (single, "shard_envs", 1, 2),
        (pair, "local", 2, 4),
    ):
        rows, shards = _env_rows(out, placement, processes)
        assert shards == {devices}
        for name in ("obs", "reward"):
            np.testing.assert_allclose(
                rows[name], reference[name], rtol=ENV_TOLERANCE, atol=ENV_TOLERANCE
            )


def test_a_batch_that_does_not_divide_over_the_devices_is_refused(single):
    errors = json.loads((single / "errors.json").read_text())
    assert set(errors) == {"shard_envs", "local_rows"}
    for message in errors.values():
        assert "(3) must be a multiple of the device count (2)" in message


def test_a_two_process_ppo_run_resumes_and_learns_what_one_process_learns(single, pair):
    reference, reference_report = _ppo(single)
    assert reference_report["resumed_from"] is None
    assert reference_report["saved"] == [2, 4]
    assert reference_report["env_rows"] == list(range(8))
    for process_id in (0, 1):
        agent, report = _ppo(pair, process_id)
        assert report["resumed_from"] == 2  # the relaunch did not start over
        assert report["saved"] == [4]
        assert report["env_rows"] == list(range(4 * process_id, 4 * process_id + 4))
        for leaf, expected in zip(agent, reference, strict=True):
            np.testing.assert_allclose(leaf, expected, rtol=0, atol=PPO_TOLERANCE)
        # The metrics are global (over all 8 envs), not this process's half.
        rows = zip(report["metrics"], reference_report["metrics"], strict=True)
        for row, expected in rows:
            # Counts match exactly: a sampled action differs only if a uniform
            # draw falls within ~1e-7 (the agents' gap) of a CDF boundary.
            assert row["episodes"] == expected["episodes"]
            assert row["actions"] == expected["actions"]
            for name in ("reward", "episode_return", "value_loss", "policy_loss"):
                assert row[name] == pytest.approx(expected[name], rel=1e-4, abs=1e-5)
    # The replicated agent is the same on both processes, to the bit.
    for a, b in zip(_ppo(pair, 0)[0], _ppo(pair, 1)[0], strict=True):
        np.testing.assert_array_equal(a, b)


# The launcher's reading of the environment, in-process (nothing is started).


@pytest.fixture
def launches(monkeypatch):
    """The calls `distributed.initialize` makes to jax.distributed.initialize."""
    import jax

    calls = []
    monkeypatch.setattr(jax.distributed, "initialize", lambda *a: calls.append(a))
    for variable in ("COORDINATOR", "NUM_PROCESSES", "PROCESS_ID", "AUTO"):
        monkeypatch.delenv(getattr(distributed, variable), raising=False)
    return calls


def test_the_launcher_does_nothing_without_settings_or_with_one_process(
    launches, monkeypatch
):
    assert distributed.initialize() is False
    monkeypatch.setenv("AUTOTRAIN_NUM_PROCESSES", "1")
    monkeypatch.setenv("AUTOTRAIN_PROCESS_ID", "0")
    assert distributed.initialize() is False
    assert launches == []


def test_the_launcher_passes_the_settings_or_asks_for_auto_detection(
    launches, monkeypatch
):
    monkeypatch.setenv("AUTOTRAIN_DISTRIBUTED", "auto")
    assert distributed.initialize() is True
    monkeypatch.setenv("AUTOTRAIN_COORDINATOR_ADDRESS", "10.0.0.1:4321")
    monkeypatch.setenv("AUTOTRAIN_NUM_PROCESSES", "4")
    monkeypatch.setenv("AUTOTRAIN_PROCESS_ID", "3")
    assert distributed.initialize() is True
    assert launches == [(None, None, None), ("10.0.0.1:4321", 4, 3)]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"AUTOTRAIN_NUM_PROCESSES": "two"}, r"\$AUTOTRAIN_NUM_PROCESSES must be an"),
        ({"AUTOTRAIN_NUM_PROCESSES": "0"}, r"\$AUTOTRAIN_NUM_PROCESSES must be >= 1"),
        (
            {"AUTOTRAIN_NUM_PROCESSES": "2", "AUTOTRAIN_PROCESS_ID": "2"},
            r"\$AUTOTRAIN_PROCESS_ID must be in \[0, \$AUTOTRAIN_NUM_PROCESSES=2\)",
        ),
        ({"AUTOTRAIN_DISTRIBUTED": "yes"}, r'\$AUTOTRAIN_DISTRIBUTED must be "auto"'),
    ],
)
def test_the_launcher_names_a_bad_setting(launches, monkeypatch, settings, message):
    for variable, value in settings.items():
        monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=message):
        distributed.initialize()
    assert launches == []


def test_local_environments_join_processes_to_one_loopback_run(launches, monkeypatch):
    joins = distributed.local_environments(3)
    for join in joins:
        for variable, value in join.items():
            monkeypatch.setenv(variable, value)
        assert distributed.initialize() is True
    address = joins[0]["AUTOTRAIN_COORDINATOR_ADDRESS"]
    assert address.startswith("127.0.0.1:")
    assert launches == [(address, 3, 0), (address, 3, 1), (address, 3, 2)]
    with pytest.raises(ValueError, match="num_processes must be >= 1, got 0"):
        distributed.local_environments(0)
