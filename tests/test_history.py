"""The weight-history ring buffer."""

import chex
import jax.numpy as jnp

from autotrain_jax import WeightHistory


def entry(value):
    return {"w": jnp.full((2, 3), value, jnp.float32), "b": jnp.float32(value)}


def test_push_wraps_around_and_counts_up_to_size():
    history = WeightHistory.create(entry(0), size=3)
    assert int(history.count) == 1
    for value in range(1, 5):
        history = history.push(entry(value))
    assert int(history.count) == 3
    chex.assert_trees_all_equal(history.newest(), entry(4))
    chex.assert_shape(history.snapshots["w"], (3, 2, 3))


def test_drop_restores_older_entries_and_keeps_the_oldest():
    history = WeightHistory.create(entry(0), size=4)
    for value in range(1, 6):  # holds 2, 3, 4, 5
        history = history.push(entry(value))
    chex.assert_trees_all_equal(history.drop(jnp.int32(2)).newest(), entry(3))
    clamped = history.drop(jnp.int32(10))
    chex.assert_trees_all_equal(clamped.newest(), entry(2))
    assert int(clamped.count) == 1
    chex.assert_trees_all_equal(history.drop(jnp.int32(0)).newest(), entry(5))


def test_push_after_drop_overwrites_the_dropped_slot():
    history = WeightHistory.create(entry(0), size=3).push(entry(1)).push(entry(2))
    history = history.drop(jnp.int32(1)).push(entry(9))
    assert int(history.count) == 3
    chex.assert_trees_all_equal(history.newest(), entry(9))
    chex.assert_trees_all_equal(history.drop(jnp.int32(1)).newest(), entry(1))
