"""Drives PPO from Python in equal chunks: a progress bar and orbax checkpoints."""

from __future__ import annotations

import functools
import math
import os
import sys
from collections.abc import Callable

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from tqdm.auto import tqdm

from autotrain_jax import sharding
from autotrain_jax.agents.ppo.algorithm import PPO, RunnerState, make_ppo
from autotrain_jax.agents.ppo.config import PPOConfig


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


BATCHED = ("env_state", "obs", "episode_return", "episode_length")


def _start(ppo: PPO, config: PPOConfig, key, env_params, mesh: Mesh | None):
    """The initial runner state and env params, with the jitted chunk's shardings.

    With a mesh, they are global arrays: the env batch split over the mesh, each
    process building only its own rows, and everything else replicated.
    """
    if mesh is None:
        return jax.jit(ppo.init)(key, env_params), env_params, None
    rows = sharding.local_rows(config.num_envs, mesh)
    local = jax.jit(functools.partial(ppo.init, rows=rows))(key, env_params)
    batched = {
        name: sharding.envs_from_local(getattr(local, name), mesh, config.num_envs)
        for name in BATCHED
    }
    unbatched = local._replace(**dict.fromkeys(BATCHED))
    runner = sharding.replicate(unbatched, mesh)._replace(**batched)
    env_params = sharding.replicate(env_params, mesh)
    runner_shardings = jax.tree.map(lambda leaf: leaf.sharding, runner)
    return runner, env_params, (runner_shardings, NamedSharding(mesh, PartitionSpec()))


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
        # Synchronous: training waits for each save anyway (a resume needs it
        # complete), and orbax's async mode then warns at every later save
        # that it waited for the previous one's finalisation.
        options = ocp.CheckpointManagerOptions(
            max_to_keep=2, create=True, enable_async_checkpointing=False
        )
        self._manager = ocp.CheckpointManager(
            os.path.abspath(directory), options=options
        )

    def latest(self) -> int | None:
        """The newest complete checkpoint's update count, None if none."""
        return self._manager.latest_step()

    def steps(self) -> tuple[int, ...]:
        """The update counts of the complete checkpoints kept, oldest first."""
        return tuple(sorted(self._manager.all_steps()))

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
            lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding),
            _to_saveable(template),
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
    mesh: Mesh | None = None,
    on_rows: Callable[[list[dict], int], None] | None = None,
) -> tuple[RunnerState, list[dict], PPO]:
    """Trains like `make_train(config, env)(key, env_params)`, in compiled chunks.

    With `checkpoint_dir`, saves the full runner state (agent, optimizer, env
    states, normaliser, key) and the metrics every `checkpoint_every` updates,
    and resumes from the newest complete checkpoint found there.

    With a `mesh` (by default `sharding.env_mesh()` when several processes run,
    see `autotrain_jax.distributed`), the env batch is split over its devices:
    each process builds and steps only its own envs, while the agent, optimizer
    and normaliser stay replicated and the metrics are global. Every process
    calls this with the same arguments; the checkpoint folder must be one they
    all reach (orbax writes each process's shards).

    `on_rows(rows, first_update)` is called after each chunk with its new
    metrics rows (already on the host: no sync is added inside the scan), e.g.
    to log them.

    Returns:
      the final runner state, one metrics row per update, and the `PPO` functions.
    """
    chunk = chunk_size(config.num_updates, checkpoint_every)
    if mesh is None and jax.process_count() > 1:
        mesh = sharding.env_mesh()
    if mesh is not None and config.group_envs:
        raise ValueError(
            "group_envs=True runs in one process without a mesh: a grouped batch "
            "keeps one state per group, which the mesh cannot split by rows"
        )
    ppo = make_ppo(config, env)
    runner, env_params, shardings = _start(ppo, config, key, env_params, mesh)
    # With a mesh, the chunk's outputs keep its inputs' layout: one compile.
    placement = {} if shardings is None else {"out_shardings": shardings}
    run_chunk = jax.jit(
        lambda runner, params: ppo.run_updates(runner, params, chunk), **placement
    )
    checkpoints = Checkpoints(checkpoint_dir) if checkpoint_dir else None
    rows: list[dict] = []
    if checkpoints is not None and checkpoints.latest() is not None:
        runner, rows = checkpoints.restore(checkpoints.latest(), runner)
    bar = tqdm(
        total=config.num_updates,
        initial=int(runner.update),
        unit="update",
        disable=not progress or jax.process_index() > 0,
        file=sys.stderr,
    )
    with bar:
        while (done := int(runner.update)) < config.num_updates:
            runner, metrics = run_chunk(runner, env_params)
            new = _json_rows(jax.device_get(metrics), chunk)
            rows += new
            if on_rows is not None:
                on_rows(new, done + 1)
            if checkpoints is not None and checkpoint_every:
                checkpoints.save(done + chunk, runner, rows)
            bar.set_postfix(_recent(rows), refresh=False)
            bar.update(chunk)
    return runner, rows, ppo
