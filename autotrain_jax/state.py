"""What one env carries between steps, and the pure state -> state pieces a
step is made of (`autotrain_jax.env` composes them)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct
from optax.tree_utils import tree_where

from autotrain_jax import observation
from autotrain_jax.config import EnvConfig
from autotrain_jax.history import WeightHistory
from autotrain_jax.reference import Reference
from autotrain_jax.tasks import Task
from autotrain_jax.trainee import Evaluation, Outcome


@struct.dataclass
class EnvState:
    """Everything one env carries between steps (a pytree; batch it with vmap)."""

    weights: Any  # the classifier's parameter pytree
    opt_state: Any  # optax state of the update direction (no LR inside)
    lr: jax.Array  # () float32, current learning rate
    weight_history: WeightHistory  # last H (weights, opt_state, score); newest: current
    records: jax.Array  # (H, F) float32, observation records, newest last
    score: jax.Array  # () float32, last Thresholdout score
    train_accuracy: jax.Array  # () float32, last training-subset accuracy sample
    holdout_accuracy: jax.Array  # () float32, last holdout accuracy sample
    time: jax.Array  # () int32, environment steps this episode
    inner_steps: jax.Array  # () int32, inner optimizer steps this episode
    task: Task  # this episode's sampled settings (initial LR, budget, subset)
    first_loss: jax.Array  # () float32, the episode's first loss; 0 before it
    batch_size: jax.Array  # () int32, inner minibatch size (self_play scales it)
    inner_samples: jax.Array  # () int32, training examples seen this episode
    reference: Reference | None  # the constant-LR run of reward="relative"

    @classmethod
    def template(cls, weights, opt_state, task: Task, config: EnvConfig) -> EnvState:
        """A state holding `weights`, every counter and record zero: the buffers
        an episode starts from (`AutoTrainEnv.reset_env`)."""
        zero = jnp.float32(0)
        history = WeightHistory.create((weights, opt_state, zero), config.history)
        reference = None
        if config.reward == "relative":
            reference = Reference.start(weights, opt_state, zero, config.num_losses)
        return cls(
            weights=weights,
            opt_state=opt_state,
            lr=zero,
            weight_history=history,
            records=jnp.zeros((config.history, config.record_size)),
            score=zero,
            train_accuracy=zero,
            holdout_accuracy=zero,
            time=jnp.int32(0),
            inner_steps=jnp.int32(0),
            task=task,
            first_loss=zero,
            batch_size=jnp.int32(config.batch_size),
            inner_samples=jnp.int32(0),
            reference=reference,
        )

    @property
    def evaluation(self) -> Evaluation:
        """Thresholdout's last view of the current weights."""
        return Evaluation(self.train_accuracy, self.holdout_accuracy, self.score)

    def measure(self, evaluation: Evaluation) -> EnvState:
        """The state with `evaluation` as Thresholdout's last view."""
        return self.replace(
            train_accuracy=evaluation.train_accuracy,
            holdout_accuracy=evaluation.holdout_accuracy,
            score=evaluation.score,
        )

    def scale_batch(self, factor, batch_range: tuple[int, int]) -> EnvState:
        """The batch size times `factor`, rounded, within `batch_range`."""
        low, high = batch_range
        size = jnp.clip(jnp.round(self.batch_size * factor), low, high)
        return self.replace(batch_size=size.astype(jnp.int32))

    def rewind(self, num: jax.Array) -> EnvState:
        """Drops the `num` newest snapshots and restores the newest remaining one
        (weights, optimizer state and the score they had)."""
        history = self.weight_history.drop(num)
        net, opt_state, score = history.newest()
        return self.replace(
            weights=net, opt_state=opt_state, score=score, weight_history=history
        )

    def commit(self, outcome: Outcome, where) -> EnvState:
        """If `where`, the trained weights become current and enter the history."""
        trained = (outcome.weights, outcome.opt_state)
        net, opt_state = tree_where(where, trained, (self.weights, self.opt_state))
        snapshot = (*trained, outcome.evaluation.score)
        evaluation = tree_where(where, outcome.evaluation, self.evaluation)
        return self.measure(evaluation).replace(
            weights=net,
            opt_state=opt_state,
            weight_history=self.weight_history.push(snapshot, where),
        )

    def note_first_loss(self, losses: jax.Array, where) -> EnvState:
        """Keeps the episode's first training loss (`observation.first_loss`)."""
        return self.replace(
            first_loss=observation.first_loss(self.first_loss, losses, where)
        )

    def append_record(
        self, losses, config: EnvConfig, max_loss: float, where=True, update=0.0
    ) -> EnvState:
        """The step's observation record (`observation.record`) joins the last H;
        `update` is the block's relative weight change."""
        new = observation.record(
            config,
            losses,
            lr=self.lr,
            score=self.score,
            train_accuracy=self.train_accuracy,
            progress=self.time / self.task.budget,
            first_loss=self.first_loss,
            max_loss=max_loss,
            batch_size=self.batch_size / config.batch_size,
            task=(self.task.budget, self.task.train_subset_size),
            update=update,
            adaptive=self.adaptive(config),
        )
        return self.replace(records=observation.append(self.records, new, where))

    def adaptive(self, config: EnvConfig) -> jax.Array:
        """() bool: is this episode's inner optimizer Adam-like (`ADAPTIVE`)?"""
        flags = jnp.asarray(config.adaptive)
        return flags[0] if self.task.optimizer is None else flags[self.task.optimizer]
