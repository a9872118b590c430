"""`when`: a conditional that computes its branch only if some element needs it."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from autotrain_jax.control_flow import chunk_size, when


def _counted(calls):
    def double_plus(x, y):
        jax.debug.callback(lambda: calls.append(1))
        return {"value": 2 * x + y, "none": None}

    return double_plus


def test_unbatched_is_a_cond():
    calls = []
    fn = _counted(calls)
    otherwise = {"value": jnp.float32(-1), "none": None}
    assert when(True, fn, otherwise, 1.0, 2.0)["value"] == 4.0
    out = jax.jit(lambda p: when(p, fn, otherwise, 1.0, 2.0))(False)
    assert out["value"] == -1.0
    assert len(calls) == 1


@pytest.mark.parametrize("batch_y", [False, True])
def test_vmapped_runs_the_branch_once_per_batch_and_only_if_needed(batch_y):
    calls = []
    fn = _counted(calls)
    x = jnp.arange(4.0)
    y = jnp.full(4, 10.0) if batch_y else jnp.float32(10)

    @jax.jit
    def batched(pred):
        def one(p, x, y):
            return when(p, fn, {"value": -x, "none": None}, x, y)

        return jax.vmap(one, in_axes=(0, 0, 0 if batch_y else None))(pred, x, y)

    out = batched(jnp.array([True, False, True, False]))["value"]
    np.testing.assert_array_equal(out, [10.0, -1.0, 14.0, -3.0])
    assert len(calls) == 1  # one vmapped run for the whole batch
    out = batched(jnp.zeros(4, bool))["value"]
    np.testing.assert_array_equal(out, -x)
    assert len(calls) == 1  # nobody asked: not run


def test_with_only_the_predicate_batched_the_branch_runs_once_for_the_batch():
    calls = []
    fn = _counted(calls)
    batch = 16  # above one chunk (8): unbatched operands need no gathering

    @jax.jit
    def batched(pred, x):
        def one(p, x):
            return when(p, fn, {"value": jnp.float32(-1), "none": None}, x, 1.0)

        return jax.vmap(one, in_axes=(0, None))(pred, x)

    pred = jnp.arange(batch) % 3 == 0
    out = batched(pred, jnp.float32(2))["value"]
    np.testing.assert_array_equal(out, np.where(pred, 5.0, -1.0))
    assert len(calls) == 1
    batched(jnp.zeros(batch, bool), jnp.float32(2))
    assert len(calls) == 1


def test_nested_vmap_asks_the_inner_batch_only_if_the_outer_needs_it():
    calls = []
    fn = _counted(calls)

    @jax.jit
    def nested(pred, x):
        def one(p, x):
            return when(p, fn, {"value": x, "none": None}, x, 1.0)["value"]

        return jax.vmap(jax.vmap(one))(pred, x)

    x = jnp.ones((2, 3))
    pred = jnp.zeros((2, 3), bool).at[1, 2].set(True)
    np.testing.assert_array_equal(nested(pred, x), jnp.ones((2, 3)).at[1, 2].set(3))
    assert len(calls) == 1
    np.testing.assert_array_equal(nested(jnp.zeros((2, 3), bool), x), x)
    assert len(calls) == 1


def test_a_large_batch_computes_only_the_asking_elements_a_chunk_at_a_time():
    calls = []
    fn = _counted(calls)
    size = 40
    chunk = chunk_size(size)
    assert chunk == 8  # a share of the batch, at least 8
    x = jnp.arange(size, dtype=jnp.float32)
    # 19 asking elements: 3 chunks; the last element does not ask, so the
    # padding (which reads it) must leave it alone
    pred = np.zeros(size, bool)
    pred[[0, 1, 5, 7, 8, 9, 11, 13, 17, 19, 20, 23, 26, 29, 30, 31, 33, 36, 38]] = True

    @jax.jit
    def batched(pred):
        def one(p, x):
            return when(p, fn, {"value": -x, "none": None}, x, 10.0)

        return jax.vmap(one)(pred, x)["value"]

    np.testing.assert_array_equal(batched(pred), np.where(pred, 2 * x + 10, -x))
    assert len(calls) == 3  # ceil(19 / 8) chunks of the vmapped branch
    np.testing.assert_array_equal(batched(np.zeros(size, bool)), -x)
    assert len(calls) == 3
