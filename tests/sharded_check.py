"""Run under XLA_FLAGS=--xla_force_host_platform_device_count=4 by test_sharding.py.

Steps 8 tiny envs and trains PPO, sharded over 4 devices and on one device,
and prints the largest differences as JSON.
"""

import json

import jax
import jax.numpy as jnp
import numpy as np

import autotrain_jax as at
from autotrain_jax.agents.ppo import PPOConfig, make_ppo
from autotrain_jax.sharding import env_mesh, replicate, shard_envs


def max_difference(a, b):
    leaves = jax.tree.leaves(jax.tree.map(lambda x, y: np.max(np.abs(x - y)), a, b))
    return float(max(leaves))


def env_rollout(params, keys, actions):
    env_reset = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))
    env_step = jax.jit(jax.vmap(env.step, in_axes=(0, 0, 0, None)))
    obs, state = env_reset(keys, params)
    for t in range(actions.shape[0]):
        obs, state, reward, *_ = env_step(
            jax.vmap(jax.random.fold_in, (0, None))(keys, t), state, actions[t], params
        )
    return obs, reward, state.weights


env, params = at.make_env("tiny")
mesh = env_mesh()
keys = jax.random.split(jax.random.key(0), 8)
actions = jax.random.randint(jax.random.key(1), (6, 8), 0, env.num_actions)
single = env_rollout(params, keys, actions)
sharded_keys = shard_envs(keys, mesh)
sharded = env_rollout(
    replicate(params, mesh), sharded_keys, shard_envs(actions.T, mesh).T
)
env_shards = len(sharded[0].sharding.device_set)

ppo = make_ppo(PPOConfig(num_envs=8, num_steps=4, num_updates=2), env)
runner = jax.jit(ppo.init)(jax.random.key(2), params)
run = jax.jit(lambda r, p: ppo.run_updates(r, p, 2))
single_runner, single_metrics = run(runner, params)
batched = ("env_state", "obs", "episode_return", "episode_length")
placed = runner._replace(
    **{name: shard_envs(getattr(runner, name), mesh) for name in batched}
)
sharded_runner, sharded_metrics = run(placed, replicate(params, mesh))
try:
    shard_envs(jnp.zeros((3, 2)), mesh)
    divisibility_error = ""
except ValueError as error:
    divisibility_error = str(error)
print(
    json.dumps(
        {
            "divisibility_error": divisibility_error,
            "devices": jax.device_count(),
            "env_shards": env_shards,
            "env_difference": max_difference(single, sharded),
            "ppo_difference": max_difference(
                single_runner.agent_params, sharded_runner.agent_params
            ),
            "ppo_return": [
                float(jnp.nansum(single_metrics["reward"])),
                float(jnp.nansum(sharded_metrics["reward"])),
            ],
        }
    )
)
