"""One process of the runs that test_distributed.py launches.

    AUTOTRAIN_COORDINATOR_ADDRESS=127.0.0.1:PORT AUTOTRAIN_NUM_PROCESSES=2 \\
    AUTOTRAIN_PROCESS_ID=0 python distributed_worker.py OUT [--env] [--ppo]

`--env` steps 8 tiny envs with random actions and writes every step's
observations and rewards to OUT/env-PLACEMENT-PROCESS_ID.npz: with one process,
unsharded ("none") and placed over the local devices with `shard_envs` (with
the divisibility errors in OUT/errors.json); with several, each process building
its own rows and joining them with `envs_from_local` ("local").

`--ppo` trains PPO on tiny (`helpers.checkpointed_run`: 8 envs, 4 updates,
checkpointed every 2 in OUT/checkpoints) with `train_in_chunks`, which splits
the env batch over the processes when there are several, and writes the agent
parameters and a report (metric rows, the env rows it held, the checkpoint it
resumed from, those it wrote) to OUT/ppo-PROCESS_ID.npz and .json. $WORKER_SLEEP
pauses after each checkpoint, so that the test can kill the processes mid-run.
"""

import argparse
import json
import os
import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np
from helpers import checkpointed_run  # tests/ is this script's sys.path[0]

import autotrain_jax as at
from autotrain_jax import sharding
from autotrain_jax.agents.ppo import run

NUM_ENVS = 8
ENV_STEPS = 5


def rows_held(array: jax.Array) -> np.ndarray:
    """This process's rows of an array split over the env axis, in order."""
    shards = sorted(array.addressable_shards, key=lambda s: s.index[0].start or 0)
    return np.concatenate([np.asarray(s.data) for s in shards])


def step_envs(env, params, placement: str, out: pathlib.Path) -> None:
    """Steps the 8 envs with their arrays placed as `placement` says."""
    mesh = sharding.env_mesh()
    rows = sharding.local_rows(NUM_ENVS, mesh) if placement == "local" else slice(None)
    place = {
        "none": lambda tree: tree,
        "shard_envs": lambda tree: sharding.shard_envs(tree, mesh),
        "local": lambda tree: sharding.envs_from_local(tree, mesh, NUM_ENVS),
    }[placement]
    keys = jax.random.split(jax.random.key(0), NUM_ENVS)[rows]
    actions = jax.random.randint(
        jax.random.key(1), (ENV_STEPS, NUM_ENVS), 0, env.num_actions
    )[:, rows]
    reset = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))
    step = jax.jit(jax.vmap(env.step, in_axes=(0, 0, 0, None)))
    _, state = reset(keys, params)  # "local": only this process's envs
    state = place(state)
    if placement != "none":
        params = sharding.replicate(params, mesh)
    observations, rewards = [], []
    for t in range(ENV_STEPS):
        step_keys = jax.vmap(jax.random.fold_in, (0, None))(keys, t)
        obs, state, reward, *_ = step(
            place(step_keys), state, place(actions[t]), params
        )
        observations.append(rows_held(obs))
        rewards.append(rows_held(reward))
    np.savez(
        out / f"env-{placement}-{jax.process_index()}.npz",
        rows=np.arange(NUM_ENVS)[rows],
        devices=jax.device_count(),
        shards=len(obs.sharding.device_set),
        obs=np.stack(observations),
        reward=np.stack(rewards),
    )


def divisibility_errors(out: pathlib.Path) -> None:
    """The messages of `shard_envs` and `local_rows` for a batch of 3 envs."""
    mesh, errors = sharding.env_mesh(), {}
    for name, call in (
        ("shard_envs", lambda: sharding.shard_envs(jnp.zeros((3, 2)), mesh)),
        ("local_rows", lambda: sharding.local_rows(3, mesh)),
    ):
        try:
            call()
        except ValueError as error:
            errors[name] = str(error)
    (out / "errors.json").write_text(json.dumps(errors))


def train_ppo(out: pathlib.Path) -> None:
    pause = float(os.environ.get("WORKER_SLEEP", "0"))
    saved = []  # the checkpoints this launch wrote
    original = run.Checkpoints.save

    def save(self, step, *args):
        original(self, step, *args)
        saved.append(step)
        time.sleep(pause)

    run.Checkpoints.save = save
    directory = out / "checkpoints"
    resumed_from = run.Checkpoints(directory).latest() if directory.exists() else None
    runner, rows = checkpointed_run(directory, num_updates=4, num_envs=NUM_ENVS)
    leaves = jax.device_get(jax.tree.leaves(runner.agent_params))
    np.savez(out / f"ppo-{jax.process_index()}.npz", *leaves)
    held = {range(NUM_ENVS)[s.index[0]] for s in runner.obs.addressable_shards}
    report = {
        "env_rows": sorted({row for rows in held for row in rows}),
        "resumed_from": resumed_from,
        "saved": saved,
        "metrics": rows,
    }
    (out / f"ppo-{jax.process_index()}.json").write_text(json.dumps(report))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=pathlib.Path)
    parser.add_argument("--env", action="store_true")
    parser.add_argument("--ppo", action="store_true")
    args = parser.parse_args()
    if args.env:
        env, params = at.make_env("tiny")
        if jax.process_count() == 1:
            step_envs(env, params, "none", args.out)
            step_envs(env, params, "shard_envs", args.out)
            divisibility_errors(args.out)
        else:
            step_envs(env, params, "local", args.out)
    if args.ppo:
        train_ppo(args.out)


if __name__ == "__main__":
    main()
