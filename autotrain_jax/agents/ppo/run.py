"""Drives PPO from Python in equal chunks: a progress bar and orbax checkpoints."""

from __future__ import annotations

import math
import os
import sys

import jax
import numpy as np
from tqdm.auto import tqdm

from autotrain_jax.agents.ppo.algorithm import PPO, PPOConfig, RunnerState, make_ppo


def chunk_size(num_updates: int, checkpoint_every: int = 0, target_chunks: int = 20):
    """Updates per compiled chunk: `checkpoint_every`, else a divisor of
    `num_updates` near `num_updates / target_chunks` (every chunk the same size,
    so the chunk compiles once)."""
    if checkpoint_every:
        if checkpoint_every < 1 or num_updates % checkpoint_every:
            raise ValueError(
                f"checkpoint_every ({checkpoint_every}) must divide num_updates "
                f"({num_updates})"
            )
        return checkpoint_every
    target = max(1, num_updates // target_chunks)
    divisors = [d for d in range(1, num_updates + 1) if num_updates % d == 0]
    return min(divisors, key=lambda d: (abs(d - target), d))


def _compiled(config: PPOConfig, env, chunk: int):
    """PPO's functions with jitted init and chunk. Not cached across calls: a
    cache would keep each env, and its dataset, alive for the process's life
    (JAX's persistent compilation cache, when set, spares the recompiles)."""
    ppo = make_ppo(config, env)
    run_chunk = jax.jit(lambda runner, params: ppo.run_updates(runner, params, chunk))
    return ppo, jax.jit(ppo.init), run_chunk


def _to_saveable(runner: RunnerState) -> RunnerState:
    return runner._replace(key=jax.random.key_data(runner.key))


def _from_saveable(runner: RunnerState) -> RunnerState:
    return runner._replace(key=jax.random.wrap_key_data(runner.key))


def _json_rows(metrics: dict, num: int) -> list[dict]:
    """Per-update metric rows, NaN (no episode finished) as None."""
    rows = []
    for i in range(num):
        row = {}
        for name, values in metrics.items():
            value = np.asarray(values[i])
            if value.ndim:
                row[name] = value.tolist()
            else:
                row[name] = None if math.isnan(float(value)) else float(value)
        rows.append(row)
    return rows


class Checkpoints:
    """Orbax CheckpointManager for (runner state, metrics so far).

    Orbax writes each checkpoint to a temporary folder and renames it when
    complete, so a run killed mid-write resumes from the last complete one.
    """

    def __init__(self, directory: str | os.PathLike):
        import orbax.checkpoint as ocp

        self._ocp = ocp
        options = ocp.CheckpointManagerOptions(max_to_keep=2, create=True)
        self._manager = ocp.CheckpointManager(
            os.path.abspath(directory), options=options
        )

    def latest(self) -> int | None:
        """The newest complete checkpoint's update count, None if none."""
        return self._manager.latest_step()

    def save(self, step: int, runner: RunnerState, rows: list[dict]) -> None:
        """Writes the runner and the metric rows as checkpoint `step`, blocking."""
        args = self._ocp.args
        self._manager.save(
            step,
            args=args.Composite(
                state=args.StandardSave(_to_saveable(runner)),
                metrics=args.JsonSave(rows),
            ),
        )
        self._manager.wait_until_finished()

    def restore(self, step: int, template: RunnerState) -> tuple[RunnerState, list]:
        """Checkpoint `step` as (runner shaped like `template`, metric rows)."""
        args = self._ocp.args
        abstract = jax.tree.map(
            lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), _to_saveable(template)
        )
        restored = self._manager.restore(
            step,
            args=args.Composite(
                state=args.StandardRestore(abstract), metrics=args.JsonRestore()
            ),
        )
        return _from_saveable(RunnerState(*restored.state)), list(restored.metrics)


def _recent(rows: list[dict]) -> dict[str, str]:
    """The last 5 updates' mean episode return and final score, for the bar."""
    shown = {}
    for name, label in (("episode_return", "return"), ("final_score", "score")):
        values = [r[name] for r in rows[-5:] if r[name] is not None]
        if values:
            shown[label] = f"{np.mean(values):.3f}"
    return shown


def train_in_chunks(
    config: PPOConfig,
    env,
    env_params,
    key: jax.Array,
    *,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: int = 0,
    progress: bool = True,
) -> tuple[RunnerState, list[dict], PPO]:
    """Trains like `make_train(config, env)(key, env_params)`, in compiled chunks.

    With `checkpoint_dir`, saves the full runner state (agent, optimizer, env
    states, normaliser, key) and the metrics every `checkpoint_every` updates,
    and resumes from the newest complete checkpoint found there.

    Returns:
      the final runner state, one metrics row per update, and the `PPO` functions.
    """
    chunk = chunk_size(config.num_updates, checkpoint_every)
    ppo, init, run_chunk = _compiled(config, env, chunk)
    checkpoints = Checkpoints(checkpoint_dir) if checkpoint_dir else None
    runner = init(key, env_params)
    rows: list[dict] = []
    if checkpoints is not None and checkpoints.latest() is not None:
        runner, rows = checkpoints.restore(checkpoints.latest(), runner)
    bar = tqdm(
        total=config.num_updates,
        initial=int(runner.update),
        unit="update",
        disable=not progress,
        file=sys.stderr,
    )
    with bar:
        while (done := int(runner.update)) < config.num_updates:
            runner, metrics = run_chunk(runner, env_params)
            rows += _json_rows(jax.device_get(metrics), chunk)
            if checkpoints is not None and checkpoint_every:
                checkpoints.save(done + chunk, runner, rows)
            bar.set_postfix(_recent(rows), refresh=False)
            bar.update(chunk)
    return runner, rows, ppo
