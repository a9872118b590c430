"""A conditional that stays lazy under `vmap`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp


def when(pred: jax.Array | bool, fn: Callable[[], Any], otherwise: Any) -> Any:
    """`fn()` if `pred` else `otherwise`, computing `fn()` only when needed.

    `jax.lax.cond` with a batched predicate becomes a `select` under `vmap`, so
    both branches run for every element. A `while_loop` with a batched predicate
    instead runs its body while *any* element needs it, and keeps the carry of
    the others: here the body runs at most once, and not at all when no element
    of the batch has `pred`. That is what an auto-resetting env step needs:
    fresh weights, warm-up training and their scores cost nothing on the steps
    (most of them) where no env resets or re-initialises.

    Caveat, measured on CPU (jax 0.10.2): XLA's while-loop-invariant code
    motion hoists much of `fn`'s work out of the loop (the random bits of fresh
    weights, the warm-up's training), where it runs on every call. On 16 `tiny`
    envs a restart that resets no env costs 39 ms with the warm start, 6 ms with
    that XLA pass disabled. The semantics hold either way; the saving is partial.
    """

    def body(carry):
        return jnp.bool_(False), fn()

    _, value = jax.lax.while_loop(
        lambda carry: carry[0], body, (jnp.asarray(pred, bool), otherwise)
    )
    return value
