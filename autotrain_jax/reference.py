"""The `relative` reward's reference run (`EnvConfig.reward="relative"`): the
episode's initial weights trained at its initial LR and batch size, on the
controlled run's minibatches, scored with the same samples. Each step's reward
compares the controlled run's losses with the reference's."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct
from optax.tree_utils import tree_where

from autotrain_jax.params import EnvParams
from autotrain_jax.scoring import finite_losses, relative_reward
from autotrain_jax.tasks import Task
from autotrain_jax.trainee import Trainee


@struct.dataclass
class Reference:
    """Where the reference run stands."""

    weights: Any  # the classifier's parameter pytree
    opt_state: Any
    losses: jax.Array  # (K,) float32, its last step's losses (finite)
    score: jax.Array  # () float32, its last Thresholdout score

    @classmethod
    def start(cls, weights, opt_state, score, num_losses: int) -> Reference:
        """A reference run that starts where the controlled run starts."""
        return cls(weights, opt_state, jnp.zeros(num_losses), score)

    def advance(
        self, trainee: Trainee, key, task: Task, batch_size: int, params: EnvParams
    ) -> Reference:
        """The run after T more steps at the task's initial LR and `batch_size`,
        with the controlled run's `key` (its minibatches and scoring samples);
        like the controlled run, it keeps its last finite weights if training
        diverged."""
        outcome = trainee.train_and_score(
            key,
            self.weights,
            self.opt_state,
            task.initial_lr,
            jnp.int32(batch_size),
            task,
            params,
        )
        keep = ~outcome.diverged
        weights = tree_where(
            keep,
            (outcome.weights, outcome.opt_state),
            (self.weights, self.opt_state),
        )
        losses = finite_losses(outcome.losses, params.max_loss)
        score = jnp.where(keep, outcome.evaluation.score, self.score)
        return Reference(*weights, losses, score)

    def reward(
        self, losses, score, params: EnvParams, trained, cost_steps
    ) -> tuple[jax.Array, jax.Array]:
        """(this step's reward, the end-of-episode term): the log loss ratio
        against the reference less the step cost, and at the end
        `relative_terminal` x the sign of the score's lead over the reference."""
        reward = relative_reward(losses, self, params, trained)
        reward -= params.step_cost * cost_steps
        end = params.relative_terminal * jnp.sign(score - self.score)
        return reward, end
