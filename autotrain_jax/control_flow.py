"""A conditional that stays lazy under `vmap`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp


def when(pred: jax.Array | bool, fn: Callable[..., Any], otherwise: Any, *operands):
    """`fn(*operands)` if `pred` else `otherwise`, computing `fn` only when needed.

    `jax.lax.cond` with a batched predicate becomes a `select` under `vmap`, so
    both branches run for every element. `when` batches differently: inside a
    real `lax.cond` on *any* element's `pred`, it gathers the elements whose
    `pred` holds and runs `vmap(fn)` on them, `chunk_size(batch)` at a time (a
    loop runs as many chunks as the asking elements fill), and keeps
    `otherwise` for the rest. That is what an auto-resetting env step needs:
    fresh weights, warm-up training and their scores cost nothing on the steps
    where no env of the batch resets or re-initialises, and only the asking
    envs' share on the others (in a batch of 128 envs a few end their episode
    on nearly every step). Nested `vmap`s nest the rule: the outer `any`
    decides whether the inner one is asked at all.

    Each element's result is a function of its own operands only, whichever
    elements ask with it; but a gathered chunk is another XLA program than the
    whole batch, so a batch of another size may round `fn`'s training steps
    differently in the last bits.

    `fn` must take everything it reads that may be batched as `operands` (a
    batching rule cannot see a closure's batch axes); `fn(*operands)` and
    `otherwise` are pytrees of the same structure, shapes and dtypes.
    """
    return _lazy(fn)(jnp.asarray(pred, bool), otherwise, operands)


# Under vmap, `fn` runs on the asking elements gathered, an eighth of the batch
# (at least 8) at a time. On the meta_tiny recipe (128 envs) PPO steps 911 env
# steps/s this way against 783 with the whole batch at once
# (`benchmarks/recipe-speed.md`, 2-core AVX-512 CPU); shares of 1/4 and 1/16
# were within 3% of 1/8.
SHARE = 8


def chunk_size(axis_size: int) -> int:
    """Elements `when` computes `fn` for at once in a batch of `axis_size`."""
    return min(axis_size, max(8, -(-axis_size // SHARE)))


def _lazy(fn: Callable[..., Any]):
    @jax.custom_batching.custom_vmap
    def lazy(pred, otherwise, operands):
        return jax.lax.cond(pred, lambda: fn(*operands), lambda: otherwise)

    @lazy.def_vmap
    def rule(axis_size, in_batched, pred, otherwise, operands):
        pred_batched, otherwise_batched, operands_batched = in_batched
        pred = _batch(pred, pred_batched, axis_size)
        otherwise = jax.tree.map(
            lambda x, b: _batch(x, b, axis_size), otherwise, otherwise_batched
        )
        chunk = chunk_size(axis_size)

        def some(pred, otherwise, operands):
            if not any(jax.tree.leaves(operands_batched)):  # one value serves all
                value = fn(*operands)
                value = jax.tree.map(lambda v: _batch(v, False, axis_size), value)
                return jax.tree.map(functools.partial(_where, pred), value, otherwise)
            if chunk < axis_size:
                return _gathered(fn, operands_batched, chunk, pred, otherwise, operands)
            in_axes = jax.tree.map(lambda b: 0 if b else None, operands_batched)
            value = jax.vmap(fn, in_axes=in_axes, axis_size=axis_size)(*operands)
            return jax.tree.map(functools.partial(_where, pred), value, otherwise)

        out = when(jnp.any(pred), some, otherwise, pred, otherwise, operands)
        return out, jax.tree.map(lambda _: True, out)

    return lazy


def _gathered(fn, operands_batched, chunk: int, pred, otherwise, operands):
    """`fn` on the elements where `pred`, `chunk` of them at a time; `otherwise`
    elsewhere."""
    size = pred.shape[0]
    # the asking elements' positions first, then `size` (no element) as padding
    rows = jnp.nonzero(pred, size=-(-size // chunk) * chunk, fill_value=size)[0]
    count = jnp.sum(pred)
    in_axes = jax.tree.map(lambda b: 0 if b else None, operands_batched)

    def one_chunk(carry):
        start, out = carry
        taken = jax.lax.dynamic_slice(rows, (start,), (chunk,))
        inside = jnp.minimum(taken, size - 1)  # padding reads a real element ...
        args = jax.tree.map(
            lambda x, b: x[inside] if b else x, operands, operands_batched
        )
        value = jax.vmap(fn, in_axes=in_axes)(*args)
        # ... whose value is then dropped: padding's position is out of bounds
        out = jax.tree.map(lambda o, v: o.at[taken].set(v, mode="drop"), out, value)
        return start + chunk, out

    _, out = jax.lax.while_loop(
        lambda carry: carry[0] < count, one_chunk, (jnp.int32(0), otherwise)
    )
    return out


def _batch(x, batched: bool, axis_size: int):
    return x if batched else jnp.broadcast_to(x, (axis_size, *jnp.shape(x)))


def _where(pred: jax.Array, x: jax.Array, y: jax.Array) -> jax.Array:
    """`jnp.where` with `pred` (N,) selecting along the leading axis."""
    return jnp.where(pred.reshape(pred.shape + (1,) * (x.ndim - 1)), x, y)
