"""A small checkpointed PPO run for test_reliability.py (killed and resumed there);
`checkpointed_run` is also the resume test's run in test_ppo.py.

argv: checkpoint folder, result JSON path. $CRASH_RUN_SLEEP slows each chunk so
that the test can kill the process mid-run.
"""

import hashlib
import json
import os
import sys
import time

import jax
import numpy as np

import autotrain_jax as at
from autotrain_jax.agents.ppo import PPOConfig, run


def checkpointed_run(directory, num_updates: int = 8):
    """The tiny PPO run, checkpointed every 2 updates: (runner, metric rows)."""
    env, params = at.make_env("tiny")
    config = PPOConfig(num_envs=4, num_steps=4, num_updates=num_updates)
    runner, rows, _ = run.train(
        config,
        env,
        params,
        jax.random.key(0),
        checkpoint_dir=directory,
        checkpoint_every=2,
        progress=False,
    )
    return runner, rows


def main(directory: str, result_path: str) -> None:
    pause = float(os.environ.get("CRASH_RUN_SLEEP", "0"))
    if pause:  # slow every chunk down, so that SIGKILL lands mid-run
        original = run._Checkpoints.save

        def slow_save(self, *args):
            time.sleep(pause)
            original(self, *args)

        run._Checkpoints.save = slow_save
    runner, rows = checkpointed_run(directory)
    digest = hashlib.sha256()
    for leaf in jax.tree.leaves(run._to_saveable(runner)):
        digest.update(np.asarray(leaf).tobytes())
    with open(result_path, "w") as file:
        json.dump({"state_sha256": digest.hexdigest(), "metrics": rows}, file)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
