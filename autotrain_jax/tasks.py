"""Task distributions: settings drawn afresh for every episode, inside jit.

A setting given as a `(low, high)` pair in `EnvParams` is sampled per episode
at reset, independently per env (DACBench's instance sets, as one vmapped
batch); a plain number stays fixed, and then nothing is drawn.

- `initial_lr`: log-uniform in [low, high].
- `max_steps_in_episode` (the budget, in env steps): uniform integer in
  [low, high].
- `train_subset_size`: log-uniform integer in [low, high]; each episode trains
  on a fresh random subset of that many examples of the training split (a
  window at a random offset into the split, which `from_arrays` shuffled).
- the dataset, when `params.data` combines several (`data.combine`): uniform.
- `label_noise`: uniform in [low, high]. Each label of every split is, with
  that probability, replaced by a class drawn uniformly (possibly its own),
  fixed for the episode: a task whose best accuracy is lower, while its
  training stays healthy. None (the default) leaves the labels alone.
- the inner optimizer, when `EnvConfig.optimizer` is a tuple of names: uniform.
- `hidden_widths` (MLP): per hidden layer, a width or a uniform integer in
  [low, high] up to the configured width; the units above it are masked by
  zero weights at every initialisation, which training never moves (see
  `autotrain_jax.models.mask_widths`), so shapes stay static.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from autotrain_jax import fast_random
from autotrain_jax.data import SPLITS

# The sampled settings a curriculum can move (`autotrain_jax.curriculum`); the
# hidden widths, label noise, optimizer and dataset are drawn per episode too,
# but no curriculum moves them.
CURRICULUM_SETTINGS = ("initial_lr", "max_steps_in_episode", "train_subset_size")


@struct.dataclass
class Task:
    """The settings of one episode, as drawn at reset."""

    initial_lr: jax.Array  # () float32
    budget: jax.Array  # () int32, env steps this episode may last
    train_subset_size: jax.Array  # () int32, examples in the episode's subset
    train_offset: jax.Array  # () int32, first example of the subset in the split
    dataset: jax.Array  # () int32, which dataset of a combined Dataset (else 0)
    widths: jax.Array | None = None  # (L,) int32 MLP hidden widths, if sampled
    label_noise: jax.Array | None = None  # () float32, P(a label is replaced)
    label_seed: jax.Array | None = None  # (2,) uint32, which labels, and by what
    optimizer: jax.Array | None = None  # () int32, index into a set of optimizers


def is_range(value) -> bool:
    """Whether a setting is a `(low, high)` range rather than a fixed value."""
    return isinstance(value, tuple | list)


def upper(value):
    """The largest value a setting can take (the setting itself if fixed)."""
    return value[1] if is_range(value) else value


def max_budget(params) -> int:
    """The longest episode `params` allows, for static rollout lengths."""
    return int(upper(params.max_steps_in_episode))


def _log_uniform(key: jax.Array, low, high) -> jax.Array:
    low, high = jnp.float32(low), jnp.float32(high)
    log_value = jax.random.uniform(key, (), jnp.float32, jnp.log(low), jnp.log(high))
    return jnp.clip(jnp.exp(log_value), low, high)


def sample_task(
    key: jax.Array, params, num_optimizers: int = 1, optimizer_member: int | None = None
) -> Task:
    """Draws one episode's settings; fixed settings are taken as they are.

    With `num_optimizers` > 1 (`EnvConfig.optimizer` is a set of that many)
    the episode's optimizer is drawn uniformly among them, or is the set's
    member `optimizer_member` if given (the other settings' draws are the same).
    """
    key_lr, key_budget, key_size, key_offset = jax.random.split(key, 4)
    data = params.data
    dataset = 0
    if data.segments is not None:
        key_dataset = jax.random.fold_in(key, 2)
        dataset = jax.random.randint(key_dataset, (), 0, data.num_datasets)
    _, pool = data.segment("train", dataset)
    initial_lr = params.initial_lr
    if is_range(initial_lr):
        initial_lr = _log_uniform(key_lr, *initial_lr)
    budget = params.max_steps_in_episode
    if is_range(budget):
        budget = jax.random.randint(key_budget, (), budget[0], budget[1] + 1)
    size, offset = params.train_subset_size, 0
    if size is None:
        size = pool
    elif is_range(size):
        size = jnp.round(_log_uniform(key_size, *size))
    if data.segments is not None:  # no larger than the drawn dataset's split
        size = jnp.minimum(size, pool)
    if params.train_subset_size is not None:
        offset = jax.random.randint(key_offset, (), 0, pool)
    return Task(
        initial_lr=jnp.asarray(initial_lr, jnp.float32),
        budget=jnp.asarray(budget, jnp.int32),
        train_subset_size=jnp.asarray(size, jnp.int32),
        train_offset=jnp.asarray(offset, jnp.int32),
        dataset=jnp.asarray(dataset, jnp.int32),
        widths=_sample_widths(jax.random.fold_in(key, 1), params.hidden_widths),
        **_sample_label_noise(jax.random.fold_in(key, 3), params.label_noise),
        optimizer=_sample_optimizer(
            jax.random.fold_in(key, 4), num_optimizers, optimizer_member
        ),
    )


def _sample_optimizer(
    key: jax.Array, num_optimizers: int, optimizer_member: int | None
) -> jax.Array | None:
    if num_optimizers == 1:
        return None
    if optimizer_member is not None:
        return jnp.int32(optimizer_member)
    return jax.random.randint(key, (), 0, num_optimizers)


def _sample_label_noise(key: jax.Array, label_noise) -> dict:
    if label_noise is None:
        return {}
    key_noise, key_seed = jax.random.split(key)
    if is_range(label_noise):
        label_noise = jax.random.uniform(key_noise, (), jnp.float32, *label_noise)
    return {
        "label_noise": jnp.asarray(label_noise, jnp.float32),
        "label_seed": jax.random.bits(key_seed, (2,), jnp.uint32),
    }


def _sample_widths(key: jax.Array, hidden_widths) -> jax.Array | None:
    if hidden_widths is None:
        return None
    keys = jax.random.split(key, len(hidden_widths))
    widths = [
        jax.random.randint(k, (), w[0], w[1] + 1) if is_range(w) else w
        for k, w in zip(keys, hidden_widths, strict=True)
    ]
    return jnp.stack([jnp.asarray(w, jnp.int32) for w in widths])


def train_indices(task: Task, idx: jax.Array, pool, start=0) -> jax.Array:
    """Positions in the training split of the subset's examples number `idx`;
    the subset lies in the `pool` examples from `start` (its dataset's part)."""
    return start + (task.train_offset + idx) % pool


def sample_train_indices(key: jax.Array, task: Task, num: int, data) -> jax.Array:
    """`num` examples of the episode's training subset, drawn with replacement."""
    start, pool = data.segment("train", task.dataset)
    idx = jax.random.randint(key, (num,), 0, task.train_subset_size)
    return train_indices(task, idx, pool, start)


def labels(task: Task | None, data, split: str, idx: jax.Array) -> jax.Array:
    """The episode's labels of examples `idx` (positions in `split`'s arrays):
    the dataset's, each replaced with probability `task.label_noise` by a class
    drawn uniformly; a hash of (position, split) under the episode's seed
    decides, so an example keeps its label for the whole episode."""
    y = getattr(data, f"{split}_y")[idx]
    if task is None or task.label_noise is None:
        return y
    counter = idx.astype(jnp.uint32) * len(SPLITS) + SPLITS.index(split)
    bits = fast_random.hash_counter(counter, task.label_seed)
    replaced = (bits >> 8).astype(jnp.float32) * 2.0**-24 < task.label_noise
    drawn = fast_random.mix(bits) % data.num_classes
    return jnp.where(replaced, drawn.astype(y.dtype), y)
