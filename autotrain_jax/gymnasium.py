"""Gymnasium adapters: one env with numpy in and out, and a vector env backed by
the jitted, vmapped step.

Importing this module registers every preset as `autotrain_jax/{preset}-v0`:

    import gymnasium, autotrain_jax.gymnasium
    env = gymnasium.make("autotrain_jax/tiny-v0", initial_lr=0.1)
    vec = gymnasium.make_vec("autotrain_jax/tiny-v0", num_envs=64)

Keys come from Gymnasium's seeding: `reset(seed=s)` starts a reproducible key
stream, and each episode and step draws its JAX key from it.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from autotrain_jax import actions
from autotrain_jax.env import AutoTrainEnv
from autotrain_jax.presets import PRESETS, make_env


def gymnasium_id(name: str) -> str:
    """The id under which preset `name` is registered with Gymnasium."""
    return f"autotrain_jax/{name}-v0"


def _spaces(env: AutoTrainEnv) -> tuple[spaces.Space, spaces.Box]:
    """Gymnasium's (action space, observation space) for one env."""
    if actions.is_box(env.config):
        action = spaces.Box(-1.0, 1.0, (actions.CONTINUOUS_DIM,), np.float32)
    else:
        action = spaces.Discrete(env.num_actions)
    shape = (env.config.history, env.config.record_size)
    return action, spaces.Box(-np.inf, np.inf, shape, np.float32)


def _as_actions(action, env: AutoTrainEnv, num_envs: int | None = None) -> jax.Array:
    """Gymnasium's numpy action(s), validated (ValueError naming the action and
    the allowed values), as the env's dtype (ids int32, boxes float32)."""
    if num_envs is None:
        actions.validate_action(action, env.config)
    else:
        actions.validate_actions(action, env.config, num_envs)
    return jnp.asarray(action, jnp.float32 if actions.is_box(env.config) else jnp.int32)


def _to_numpy(tree: Any) -> Any:
    return jax.tree.map(np.asarray, jax.device_get(tree))


def _masked(info: dict[str, np.ndarray], mask: np.ndarray) -> dict:
    """Batched `info` with Gymnasium's `_key` masks (which envs hold `key`)."""
    return {**info, **{f"_{key}": mask for key in info}}


class AutoTrainGymnasiumEnv(gymnasium.Env):
    """One AutoTrain env as a `gymnasium.Env` (no auto-reset: call `reset`
    after `terminated or truncated`, as Gymnasium expects).

    Args:
      preset: a preset name (see `autotrain_jax.registered_envs()`).
      **overrides: any `make_env` override (`data=`, `initial_lr=`, ...).
    """

    metadata = {"render_modes": []}

    def __init__(self, preset: str = "mnist-mlp", **overrides):
        self.env, self.params = make_env(preset, **overrides)
        self.action_space, self.observation_space = _spaces(self.env)
        self._reset = jax.jit(self.env.reset)
        self._step = jax.jit(self.env.step_env)
        self._state = None
        self._key = None

    def _next_key(self) -> jax.Array:
        if self._key is None:  # seed the key stream from Gymnasium's generator
            self._key = jax.random.key(self.np_random.integers(2**31))
        self._key, key = jax.random.split(self._key)
        return key

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Starts an episode; `seed` restarts the key stream. Returns (obs, {})."""
        super().reset(seed=seed)
        if seed is not None:
            self._key = None
        obs, self._state = self._reset(self._next_key(), self.params)
        return np.asarray(obs), {}

    def step(self, action):
        """One env step. Returns (obs, reward, terminated, truncated, info) as
        numpy values, `info` being `step_env`'s."""
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        obs, self._state, reward, terminated, info = self._step(
            self._next_key(), self._state, _as_actions(action, self.env), self.params
        )
        truncated = self.env.is_truncated(self._state, self.params)
        return (
            np.asarray(obs),
            float(reward),
            bool(terminated),
            bool(truncated),
            _to_numpy(info),
        )


class AutoTrainVectorEnv(VectorEnv):
    """`num_envs` AutoTrain envs in one jitted, vmapped step, as a Gymnasium
    `VectorEnv`.

    It auto-resets in Gymnasium's `SAME_STEP` mode: where an episode ends, `step`
    already returns the next episode's first observation, and puts the last one
    in `info["final_obs"]` (an object array, None elsewhere) and that step's
    info in `info["final_info"]`. Every info key has Gymnasium's boolean mask
    `info["_key"]` of the envs it holds for: the step's own info keys are masked
    off where an episode ended (there, the info is the new episode's, empty).
    """

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, preset: str = "mnist-mlp", num_envs: int = 16, **overrides):
        self.env, self.params = make_env(preset, **overrides)
        self.num_envs = num_envs
        self.single_action_space, self.single_observation_space = _spaces(self.env)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self._reset = jax.jit(jax.vmap(self.env.reset, in_axes=(0, None)))
        self._step = jax.jit(
            jax.vmap(self.env.step, in_axes=(0, 0, 0, None)), donate_argnums=1
        )
        self._states = None
        self._key = None

    def _next_keys(self) -> jax.Array:
        if self._key is None:
            self._key = jax.random.key(self.np_random.integers(2**31))
        self._key, key = jax.random.split(self._key)
        return jax.random.split(key, self.num_envs)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Starts every env's episode; `seed` restarts the key stream."""
        if seed is not None:
            self._np_random, self._np_random_seed = gymnasium.utils.seeding.np_random(
                seed
            )
            self._key = None
        obs, self._states = self._reset(self._next_keys(), self.params)
        return np.asarray(obs), {}

    def step(self, actions_batch):
        """Steps every env. Returns numpy (obs, reward, terminated, truncated,
        info) with a leading `num_envs` axis."""
        if self._states is None:
            raise RuntimeError("call reset() before step()")
        obs, self._states, reward, terminated, truncated, info = self._step(
            self._next_keys(),
            self._states,
            _as_actions(actions_batch, self.env, self.num_envs),
            self.params,
        )
        step_info = _to_numpy(info)
        final_obs = step_info.pop("final_observation")
        done = np.asarray(terminated | truncated)
        info = _masked(step_info, ~done)  # where an episode ended: the reset's {}
        if done.any():
            info["final_obs"] = np.full(self.num_envs, None, dtype=object)
            for i in np.flatnonzero(done):
                info["final_obs"][i] = final_obs[i]
            info["final_info"] = _masked(step_info, done)
            info["_final_obs"] = info["_final_info"] = done
        return (
            np.asarray(obs),
            np.asarray(reward),
            np.asarray(terminated),
            np.asarray(truncated),
            info,
        )


def register() -> None:
    """Registers every preset with Gymnasium (done on import of this module)."""
    for name in PRESETS:
        if gymnasium_id(name) not in gymnasium.registry:
            gymnasium.register(
                gymnasium_id(name),
                entry_point=AutoTrainGymnasiumEnv,
                vector_entry_point=AutoTrainVectorEnv,
                kwargs={"preset": name},
            )


register()
