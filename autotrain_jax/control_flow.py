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
    both branches run for every element. `when` batches differently: it runs
    `vmap(fn)` over the whole batch, inside a real `lax.cond` on *any* element's
    `pred`, and keeps `otherwise` for the elements without it. That is what an
    auto-resetting env step needs: fresh weights, warm-up training and their
    scores cost nothing on the steps (most of them) where no env of the batch
    resets or re-initialises. Nested `vmap`s nest the rule: the outer `any`
    decides whether the inner one is asked at all.

    `fn` must take everything it reads that may be batched as `operands` (a
    batching rule cannot see a closure's batch axes); `fn(*operands)` and
    `otherwise` are pytrees of the same structure, shapes and dtypes.
    """
    return _lazy(fn)(jnp.asarray(pred, bool), otherwise, operands)


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
        in_axes = jax.tree.map(lambda b: 0 if b else None, operands_batched)

        def some(pred, otherwise, operands):
            value = jax.vmap(fn, in_axes=in_axes, axis_size=axis_size)(*operands)
            return jax.tree.map(functools.partial(_where, pred), value, otherwise)

        out = when(jnp.any(pred), some, otherwise, pred, otherwise, operands)
        return out, jax.tree.map(lambda _: True, out)

    return lazy


def _batch(x, batched: bool, axis_size: int):
    return x if batched else jnp.broadcast_to(x, (axis_size, *jnp.shape(x)))


def _where(pred: jax.Array, x: jax.Array, y: jax.Array) -> jax.Array:
    """`jnp.where` with `pred` (N,) selecting along the leading axis."""
    return jnp.where(pred.reshape(pred.shape + (1,) * (x.ndim - 1)), x, y)
