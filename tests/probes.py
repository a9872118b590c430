"""Probe environments whose optimal policy and values are known, to test agents.

Each follows the env API the agents use (gymnax 1.0: auto-resetting `step`,
`info["final_observation"]`) with observations shaped [1, 2] like a one-record
AutoTrain observation.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import spaces
from optax.tree_utils import tree_where


@struct.dataclass
class ProbeState:
    sign: jax.Array  # () float32, +-1
    time: jax.Array  # () int32


class _Probe:
    horizon = 1

    def action_space(self, params=None):
        return spaces.Discrete(2)

    @property
    def num_actions(self) -> int:
        return 2

    def observation_space(self, params=None):
        return spaces.Box(-1.0, 1.0, (1, 2))

    def _obs(self, state: ProbeState) -> jax.Array:
        return jnp.stack([state.sign, 1.0])[None]

    def reset(self, key, params=None):
        sign = jnp.where(jax.random.bernoulli(key), 1.0, -1.0)
        state = ProbeState(sign, jnp.int32(0))
        return self._obs(state), state

    def step(self, key, state: ProbeState, action, params=None):
        reward, terminated = self._reward(state, action)
        state = state.replace(time=state.time + 1)
        truncated = (state.time >= self.horizon) & ~terminated
        final_obs = self._obs(state)
        obs_reset, state_reset = self.reset(key)
        done = terminated | truncated
        state = tree_where(done, state_reset, state)
        obs = jnp.where(done, obs_reset, final_obs)
        info = {"final_observation": final_obs, "score": reward}
        return obs, state, reward, terminated, truncated, info


class SignProbe(_Probe):
    """One-step episodes: reward 1 for action 1 when the sign is +1, action 0 when -1.

    The optimal policy is a function of the observation; its return is 1.
    """

    def _reward(self, state, action):
        correct = action == (state.sign > 0).astype(jnp.int32)
        return correct.astype(jnp.float32), jnp.bool_(True)


class HorizonProbe(_Probe):
    """Reward 1 every step, never terminates, truncated after `horizon` steps.

    Truncation is not an end of the task, so the correct value is 1 / (1 - gamma)
    at every step; a learner that treats truncation as termination learns less.
    """

    horizon = 5

    def _obs(self, state):
        return jnp.zeros((1, 2))

    def _reward(self, state, action):
        return jnp.float32(1.0), jnp.bool_(False)


class ScaleProbe(_Probe):
    """One-step episodes paying `reward` (10, like the env's final reward).

    The value of every observation is `reward`: a critic that may move only a
    little per update (PPO's value clip) takes many updates to get there.
    """

    reward = 10.0

    def _reward(self, state, action):
        return jnp.float32(self.reward), jnp.bool_(True)
