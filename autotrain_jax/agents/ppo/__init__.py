"""PPO in one `jax.lax.scan` (brax layout: networks, losses, train)."""

from autotrain_jax.agents.ppo.losses import Batch, compute_gae, ppo_loss
from autotrain_jax.agents.ppo.networks import ActorCritic
from autotrain_jax.agents.ppo.train import (
    PPO,
    PPOConfig,
    RunnerState,
    RunningStats,
    make_ppo,
    make_train,
)

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
