"""Sharding the env batch over 4 simulated CPU devices matches one device."""

import json
import os
import pathlib
import subprocess
import sys

import pytest


# ~75-100 s on 2 cores, run by default: the README's guarantee table cites it
def test_sharded_envs_and_ppo_equal_the_single_device_run():
    script = pathlib.Path(__file__).with_name("sharded_check.py")
    environ = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    result = subprocess.run(
        [sys.executable, str(script)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["devices"] == 4 and report["env_shards"] == 4
    assert report["env_difference"] < 1e-4
    assert report["ppo_difference"] < 1e-4
    assert report["ppo_return"][0] == pytest.approx(report["ppo_return"][1], abs=1e-4)
    assert "multiple of the device count (4)" in report["divisibility_error"]
