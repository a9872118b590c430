"""`fast_random`: a counter hash must still look uniform and independent."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from autotrain_jax import fast_random


def test_uniform_is_uniform_in_its_interval():
    u = np.asarray(fast_random.uniform(jax.random.key(0), (200_000,), minval=-1.0))
    assert u.min() >= -1.0 and u.max() < 1.0
    # Kolmogorov-Smirnov against U(-1, 1): a biased hash fails at any sample size
    assert stats.kstest(u, stats.uniform(-1, 2).cdf).pvalue > 1e-3
    counts, _ = np.histogram(u, bins=64, range=(-1, 1))
    assert stats.chisquare(counts).pvalue > 1e-3


def test_every_bit_is_a_fair_coin_and_neighbours_are_uncorrelated():
    bits = np.asarray(fast_random.bits(jax.random.key(1), (100_000,)))
    ones = (bits[:, None] >> np.arange(32, dtype=np.uint32)) & 1
    # 100k fair coins: std of the mean 0.0016; 0.01 is over 6 sigma
    np.testing.assert_allclose(ones.mean(0), 0.5, atol=0.01)
    u = bits / 2.0**32
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.02  # counter order leaks not


def test_keys_decide_the_stream():
    key = jax.random.key(2)
    same = [fast_random.uniform(key, (1000,)) for _ in range(2)]
    np.testing.assert_array_equal(*same)
    # split keys (as vmapped envs get) give uncorrelated streams
    draws = jax.vmap(lambda k: fast_random.uniform(k, (50_000,)))(
        jax.random.split(key, 8)
    )
    correlations = np.corrcoef(np.asarray(draws))[np.triu_indices(8, 1)]
    assert np.abs(correlations).max() < 0.03  # 50k pairs: std 0.0045


def test_shapes_and_dtype():
    u = fast_random.uniform(jax.random.key(3), (3, 4, 5), jnp.bfloat16, 2.0, 3.0)
    assert u.shape == (3, 4, 5) and u.dtype == jnp.bfloat16
    assert float(u.min()) >= 2.0 and float(u.max()) <= 3.0
    with pytest.raises(ValueError, match="at most 2\\*\\*32 - 1"):
        fast_random.bits(jax.random.key(0), (2**16, 2**16))
