"""Runs `helpers.checkpointed_run` as a script for test_reliability.py, which
kills and resumes it.

argv: checkpoint folder, result JSON path; the result holds the final state's
digest, the metric rows and the checkpoint step the run resumed from (None
for a fresh run). $CRASH_RUN_SLEEP slows each chunk so
that the test can kill the process mid-run. $CRASH_RUN_STALL_AT=N stalls inside
the N-th checkpoint's write (its files are in orbax's temporary folder, not yet
renamed to commit it) after creating the file $CRASH_RUN_MARKER, so that the
test can kill the process during a write.
"""

import asyncio
import hashlib
import json
import os
import pathlib
import sys
import time

import jax
import numpy as np
from helpers import checkpointed_run  # tests/ is this script's sys.path[0]

from autotrain_jax.agents.ppo import run


def stall_inside_write(at_save: int, marker: str) -> None:
    """Patches orbax's commit step (the rename of the temporary folder) to hang
    at the `at_save`-th checkpoint: a private orbax API, checked on use."""
    from orbax.checkpoint._src.path import atomicity

    original = atomicity.AtomicRenameTemporaryPath.finalize
    saves = []

    async def finalize(self):  # called per item too; a step's folder is "N.orbax..."
        step = self.get().name.split(".")[0].isdigit()
        saves.extend([self] if step else [])
        if step and len(saves) == at_save:
            pathlib.Path(marker).write_text(str(self.get()))
            while True:  # until SIGKILL
                await asyncio.sleep(1.0)
        await original(self)

    atomicity.AtomicRenameTemporaryPath.finalize = finalize


def main(directory: str, result_path: str) -> None:
    pause = float(os.environ.get("CRASH_RUN_SLEEP", "0"))
    if pause:  # slow every chunk down, so that SIGKILL lands mid-run
        original = run.Checkpoints.save

        def slow_save(self, *args):
            time.sleep(pause)
            original(self, *args)

        run.Checkpoints.save = slow_save
    if os.environ.get("CRASH_RUN_STALL_AT"):
        stall_inside_write(
            int(os.environ["CRASH_RUN_STALL_AT"]), os.environ["CRASH_RUN_MARKER"]
        )
    restored = []  # the step a resumed run restores, so the test sees a resume
    original_restore = run.Checkpoints.restore

    def restore(self, step, template):
        restored.append(step)
        return original_restore(self, step, template)

    run.Checkpoints.restore = restore
    runner, rows = checkpointed_run(directory)
    digest = hashlib.sha256()
    for leaf in jax.tree.leaves(run._to_saveable(runner)):
        digest.update(np.asarray(leaf).tobytes())
    with open(result_path, "w") as file:
        result = {"state_sha256": digest.hexdigest(), "metrics": rows}
        json.dump({**result, "resumed_from": restored[0] if restored else None}, file)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
