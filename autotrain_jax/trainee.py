"""The network an episode trains, as the MDP sees it: fresh weights, T inner
optimizer steps, Thresholdout's view of the result, and whole-split accuracy.
The env (`autotrain_jax.env`) decides; a `Trainee` does the work."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from autotrain_jax.config import EnvConfig
from autotrain_jax.data import Dataset
from autotrain_jax.models import INIT_METHODS, make_init_fn, make_model, mask_widths
from autotrain_jax.optimizers import InnerOptimizer
from autotrain_jax.params import EnvParams
from autotrain_jax.scoring import thresholdout_score
from autotrain_jax.tasks import Task, labels
from autotrain_jax.training import (
    accuracy,
    make_train_fn,
    sample_accuracies,
    tree_all_finite,
)


class Evaluation(NamedTuple):
    """Thresholdout's view of one set of weights."""

    train_accuracy: jax.Array  # () float32, on a sample of the training subset
    holdout_accuracy: jax.Array  # () float32, on a sample of the holdout
    score: jax.Array  # () float32, Thresholdout answer


class Outcome(NamedTuple):
    """What T inner steps produced, before the env decides to keep it."""

    weights: Any  # the trained classifier's parameters
    opt_state: Any
    losses: jax.Array  # (K,) float32, may be non-finite
    evaluation: Evaluation
    diverged: jax.Array  # () bool, a loss or weight is not finite


class Trainee:
    """The classifier of `config` on data shaped like `data`, with its inner
    optimizer (its set's member `optimizer_member` only, if given: see
    `InnerOptimizer`). Pure functions of their arguments; `train` is the bare
    inner training (`make_train_fn`), for baselines and benchmarks."""

    def __init__(
        self, config: EnvConfig, data: Dataset, optimizer_member: int | None = None
    ):
        self.config = config
        self.model = make_model(config, data.num_classes)
        self.optimizer = InnerOptimizer(config.optimizer, optimizer_member)
        self.train = make_train_fn(config, self.model, self.optimizer)
        self._init = make_init_fn(config, data.input_shape, data.num_classes)
        self._input_dim = math.prod(data.input_shape)

    def fresh(self, key: jax.Array, task: Task | None = None) -> tuple[Any, Any]:
        """New weights (init method drawn uniformly) and optimizer state."""
        key_method, key_init = jax.random.split(key)
        method = jax.random.randint(key_method, (), 0, len(INIT_METHODS))
        net = self.initialise(key_init, method, task)
        return net, self.optimizer.init(net)

    def initialise(self, key: jax.Array, method: jax.Array, task: Task | None):
        """Weights by `method`, narrowed to the task's hidden widths if it has them."""
        net = self._init(key, method)
        if task is None or task.widths is None:
            return net
        return mask_widths(net, task.widths, method, self._input_dim)

    def evaluate(self, key, net, task: Task, params: EnvParams) -> Evaluation:
        """Thresholdout's score of `net` from samples of the task's training
        subset and of the holdout (`training.sample_accuracies`)."""
        key_samples, key_score = jax.random.split(key)
        train_acc, holdout_acc = sample_accuracies(
            key_samples, self.model, net, params.data, task, self.config.eval_batch_size
        )
        score = thresholdout_score(
            key_score,
            train_acc,
            holdout_acc,
            params.threshold,
            params.threshold_noise,
            params.answer_noise,
        )
        return Evaluation(train_acc, holdout_acc, score)

    def train_and_score(
        self, key, weights, opt_state, lr, batch_size, task: Task, params: EnvParams
    ) -> Outcome:
        """T inner steps from `weights`, then Thresholdout."""
        key_train, key_evaluate = jax.random.split(key)
        net, opt_state, losses = self.train(
            key_train, weights, opt_state, lr, params.data, task, batch_size
        )
        scored = self.optimizer.eval_weights(opt_state, net, task.optimizer)
        evaluation = self.evaluate(key_evaluate, scored, task, params)
        diverged = ~(jnp.all(jnp.isfinite(losses)) & tree_all_finite(net))
        return Outcome(net, opt_state, losses, evaluation, diverged)

    def accuracy(
        self, weights, opt_state, task: Task, params: EnvParams, split: str, batch_size
    ) -> jax.Array:
        """Accuracy on a whole split: `train` (the task's training subset),
        `holdout` or `test` (of the task's dataset, in a combined Dataset)."""
        data = params.data
        weights = self.optimizer.eval_weights(opt_state, weights, task.optimizer)
        xs = getattr(data, f"{split}_x")
        ys = labels(task, data, split, jnp.arange(xs.shape[0]))

        def correct(xy):
            x, y = xy
            x = data.normalize(x[None], task.dataset)
            return accuracy(self.model, weights, x, y[None])

        hits = jax.lax.map(correct, (xs, ys), batch_size=batch_size)
        subset = split == "train" and params.train_subset_size is not None
        if data.segments is None and not subset:
            return hits.mean()
        start, count = data.segment(split, task.dataset)
        position = jnp.arange(hits.shape[0]) - start
        inside = (position >= 0) & (position < count)
        if subset:  # the window of train_subset_size examples from the offset
            inside &= (position - task.train_offset) % count < task.train_subset_size
            count = task.train_subset_size
        return jnp.sum(jnp.where(inside, hits, 0.0)) / count
