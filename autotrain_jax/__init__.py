"""autotrain_jax: a vectorised JAX environment for learning to steer training."""

# ruff: noqa: E402 (the imports below must follow distributed.initialize())

# First: join a multi-process run if the environment describes one, before any
# import below (gymnax's) starts JAX's backend. See autotrain_jax.distributed.
from autotrain_jax import distributed

distributed.initialize()

from autotrain_jax.actions import Control, decode, encode_continuous, num_actions
from autotrain_jax.config import EnvConfig
from autotrain_jax.data import Dataset, from_arrays, load_dataset
from autotrain_jax.env import AutoTrainEnv, EnvState
from autotrain_jax.history import WeightHistory
from autotrain_jax.params import EnvParams, check_params
from autotrain_jax.presets import (
    PRESETS,
    gymnax_id,
    make_env,
    register_with_gymnax,
    registered_envs,
)
from autotrain_jax.scoring import thresholdout_score
from autotrain_jax.wrappers import LegacyWrapper

__all__ = [
    "PRESETS",
    "AutoTrainEnv",
    "Control",
    "Dataset",
    "EnvConfig",
    "EnvParams",
    "EnvState",
    "LegacyWrapper",
    "WeightHistory",
    "check_params",
    "decode",
    "encode_continuous",
    "from_arrays",
    "gymnax_id",
    "load_dataset",
    "make_env",
    "num_actions",
    "registered_envs",
    "thresholdout_score",
]

register_with_gymnax()
