"""The inner training the environment steers: optimizer, scanned steps, accuracy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from autotrain_jax import fast_random
from autotrain_jax.config import EnvConfig
from autotrain_jax.data import Dataset
from autotrain_jax.optimizers import InnerOptimizer
from autotrain_jax.tasks import Task, labels, sample_train_indices, train_indices


def cross_entropy(
    model: nn.Module, params, x: jax.Array, y: jax.Array, size=None
) -> jax.Array:
    """Mean cross-entropy over the batch, or over its first `size` examples."""
    logits = model.apply({"params": params}, x)
    losses = optax.softmax_cross_entropy_with_integer_labels(logits, y)
    if size is None:
        return losses.mean()
    used = jnp.arange(losses.shape[0]) < size
    return jnp.sum(jnp.where(used, losses, 0.0)) / size


def accuracy(model: nn.Module, params, x: jax.Array, y: jax.Array) -> jax.Array:
    """The fraction of `x` that `model` with weights `params` labels as `y`."""
    logits = model.apply({"params": params}, x)
    return jnp.mean(jnp.argmax(logits, -1) == y)


def make_train_fn(
    config: EnvConfig, model: nn.Module, optimizer: InnerOptimizer
) -> Callable:
    """Returns `train(key, params, opt_state, lr, data, task=None, batch_size=None)
    -> (params, opt_state, losses)`.

    Runs T = config.inner_steps optimizer steps on minibatches drawn with
    replacement from the training split (or the `task`'s subset of it), in one
    `lax.scan`, with the `task`'s optimizer if `config.optimizer` is a set.
    `losses` is (K,): the mean minibatch loss over each block of
    S = config.loss_every steps. Under the `self_play` action set each step
    draws `config.batch_size_max` examples and averages the loss over the first
    `batch_size` (a traced int32): a variable batch size with static shapes.
    """
    variable = config.action_set == "self_play"
    drawn = config.batch_range[1]
    grad_fn = jax.value_and_grad(
        lambda p, x, y, size: cross_entropy(model, p, x, y, size)
    )

    def train(
        key,
        params,
        opt_state,
        lr,
        data: Dataset,
        task: Task | None = None,
        batch_size: jax.Array | None = None,
    ) -> tuple[Any, Any, jax.Array]:
        pool = data.train_y.shape[0]
        size = batch_size if variable else None
        dataset = None if task is None else task.dataset
        choice = None if task is None else task.optimizer

        def inner_step(carry, step_key):
            params, opt_state = carry
            if task is None:
                idx = jax.random.randint(step_key, (drawn,), 0, pool)
            else:
                idx = sample_train_indices(step_key, task, drawn, data)
            x = data.normalize(data.train_x[idx], dataset)
            loss, grads = grad_fn(params, x, labels(task, data, "train", idx), size)
            params, opt_state = optimizer.apply(grads, opt_state, params, lr, choice)
            return (params, opt_state), loss

        keys = jax.random.split(key, config.inner_steps)
        (params, opt_state), losses = jax.lax.scan(
            inner_step, (params, opt_state), keys
        )
        return params, opt_state, losses.reshape(config.num_losses, -1).mean(axis=1)

    return train


def sample_accuracies(
    key: jax.Array, model: nn.Module, params, data: Dataset, task: Task, size: int
) -> tuple[jax.Array, jax.Array]:
    """Accuracies on `size` examples of the task's training subset and `size`
    of its dataset's holdout, drawn with replacement (a bounded cost).

    Both samples come from one draw of counter-hash bits (`fast_random`), as
    indices modulo the pool (a bias below 2e-5 relative for pools under
    2**16), and are scored in one forward pass: the fewest PRNG and matmul ops
    for XLA to compile, since the env's step scores weights three times.
    """
    bits = fast_random.bits(key, (2, size))
    train_start, train_pool = data.segment("train", task.dataset)
    train_idx = train_indices(
        task, _below(bits[0], task.train_subset_size), train_pool, train_start
    )
    start, count = data.segment("holdout", task.dataset)
    holdout_idx = start + _below(bits[1], count)
    x = jnp.concatenate([data.train_x[train_idx], data.holdout_x[holdout_idx]])
    y = jnp.concatenate(
        [
            labels(task, data, "train", train_idx),
            labels(task, data, "holdout", holdout_idx),
        ]
    )
    logits = model.apply({"params": params}, data.normalize(x, task.dataset))
    hits = (jnp.argmax(logits, -1) == y).reshape(2, size)
    return hits[0].mean(), hits[1].mean()


def _below(bits: jax.Array, bound) -> jax.Array:
    """int32 in [0, bound) from uint32 `bits`, by the remainder."""
    return (bits % jnp.asarray(bound, jnp.uint32)).astype(jnp.int32)


def tree_all_finite(tree) -> jax.Array:
    """() bool: whether every element of every leaf is finite."""
    leaves = [jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(tree)]
    return jnp.all(jnp.stack(leaves))
