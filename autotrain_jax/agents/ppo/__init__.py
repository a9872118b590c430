"""PPO in one `jax.lax.scan`: networks, losses, the algorithm, and `run` (chunks,
checkpoints)."""

from autotrain_jax.agents.ppo.algorithm import (
    PPO,
    RunnerState,
    RunningStats,
    make_ppo,
    make_train,
)
from autotrain_jax.agents.ppo.config import PPOConfig
from autotrain_jax.agents.ppo.losses import Batch, compute_gae, ppo_loss
from autotrain_jax.agents.ppo.networks import ActorCritic

__all__ = [
    "PPO",
    "ActorCritic",
    "Batch",
    "PPOConfig",
    "RunnerState",
    "RunningStats",
    "compute_gae",
    "make_ppo",
    "make_train",
    "ppo_loss",
]
