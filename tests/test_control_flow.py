"""`when`: a conditional that computes its branch only if some element needs it."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from autotrain_jax.control_flow import when


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
