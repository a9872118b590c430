"""The observation record: what one environment step shows the agent.

One function for the env and for `controllers.steer`, which builds the same
records from a user's own training loop.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from autotrain_jax.config import EnvConfig
from autotrain_jax.scoring import finite_losses


def record(
    config: EnvConfig,
    losses: jax.Array,
    *,
    lr: jax.Array,
    score: jax.Array,
    train_accuracy: jax.Array,
    progress: jax.Array,
    first_loss: jax.Array,
    max_loss: float,
    batch_size: jax.Array | None = None,
    task: tuple[jax.Array, jax.Array] | None = None,
    update: jax.Array | None = None,
    adaptive: jax.Array | None = None,
) -> jax.Array:
    """One record, shape `(config.record_size,)` float32 (see
    `EnvConfig.observation`).

    Args:
      losses: (K,) the block's training losses (means over `loss_every` steps);
        non-finite ones are shown as `max_loss`.
      lr: the LR the block trained with.
      score, train_accuracy: Thresholdout's score and the training accuracy
        after the block.
      progress: blocks done, including this one, over the budget.
      first_loss: the episode's first loss (0 before it): `scale_free`'s scale.
      batch_size: the block's batch size over the configured one (`self_play`).
      task: (budget, train_subset_size) of the episode (`observe_task`).
      update: the block's relative weight change (`observe_update`).
      adaptive: whether the inner optimizer is Adam-like (`observe_optimizer`).
    """
    losses = finite_losses(losses, max_loss)
    if config.observation == "scale_free":
        first = jnp.where(first_loss > 0, first_loss, losses[0])
        relative = jnp.log(jnp.maximum(losses, 1e-8) / jnp.maximum(first, 1e-8))
        extra = [jnp.log10(lr), score, train_accuracy, progress]
        features = [jnp.clip(relative, -20.0, 20.0), jnp.stack(extra)]
    else:
        features = [losses, lr[None], score[None]]
    if config.observation == "extended":
        extra = [jnp.log10(lr), train_accuracy, progress]
        features.append(jnp.stack(extra))
    if config.action_set == "self_play":
        features.append(jnp.log2(batch_size)[None])
    if config.observe_task:
        features.append(jnp.log10(jnp.stack(task).astype(jnp.float32)))
    if config.observe_update:
        features.append(jnp.clip(jnp.log10(jnp.maximum(update, 1e-8)), -8.0, 2.0)[None])
    if config.observe_optimizer:
        features.append(jnp.asarray(adaptive, jnp.float32)[None])
    return jnp.concatenate(features).astype(jnp.float32)


def relative_change(before, after) -> jax.Array:
    """|after - before| / |before| over two weight pytrees (global L2 norms);
    0 if it is not finite."""
    moved = optax.tree_utils.tree_norm(jax.tree.map(jnp.subtract, after, before))
    change = moved / jnp.maximum(optax.tree_utils.tree_norm(before), 1e-12)
    return jnp.where(jnp.isfinite(change), change, 0.0)


def append(records: jax.Array, new: jax.Array, where=True) -> jax.Array:
    """The observation `(H, record_size)` with `new` as its newest row (if
    `where`), the oldest dropped."""
    appended = jnp.concatenate([records[1:], new[None]])
    return jnp.where(where, appended, records)


def first_loss(first: jax.Array, losses: jax.Array, where) -> jax.Array:
    """The episode's first loss, `scale_free`'s scale: `losses[0]` of the first
    block that trained (`where`), 0 before it."""
    return jnp.where((first == 0) & where, losses[0], first)


def newest_lr_and_score(
    config: EnvConfig, obs: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """(LR, score) of the newest record of an observation `(H, record_size)`,
    read from the layout `record` writes: the LR right after the K losses
    (log10 of it in `scale_free`), the score after it. LR 0 before the first
    record (an all-zero row)."""
    k = config.num_losses
    lr, score = obs[-1, k], obs[-1, k + 1]
    if config.observation == "scale_free":
        lr = jnp.where(jnp.any(obs[-1] != 0), 10.0**lr, 0.0)
    return lr, score
