"""Thresholdout, initialisation methods and the models."""

import collections
import functools

import flax.linen as nn
import jax
import jax.extend.core
import jax.numpy as jnp
import numpy as np
import pytest

import autotrain_jax as at
from autotrain_jax import thresholdout_score
from autotrain_jax.models import (
    INIT_METHODS,
    Conv3x3,
    max_pool2x2,
    method_initializer,
)

DEFAULTS = dict(threshold=0.01, threshold_noise=0.02, answer_noise=0.005)


def scores(train, holdout, n=2000):
    keys = jax.random.split(jax.random.key(0), n)
    return jax.vmap(lambda k: thresholdout_score(k, train, holdout, **DEFAULTS))(keys)


def test_agreeing_accuracies_answer_the_training_accuracy_past_the_noisy_threshold():
    answers = scores(0.900, 0.899)
    # |gap| = 0.001 < 0.01 + N(0, 0.02) with probability Phi(0.009 / 0.02) = 0.674
    assert np.mean(answers == np.float32(0.900)) == pytest.approx(0.674, abs=0.03)


def test_overfitting_answers_a_noisy_holdout_accuracy():
    answers = scores(1.0, 0.9)
    assert np.all(answers != 1.0)
    assert np.mean(answers) == pytest.approx(0.9, abs=0.001)
    assert np.std(answers) == pytest.approx(0.005, rel=0.1)


@pytest.mark.parametrize("index", range(4))
def test_method_initializer_matches_flax(index):
    reference = {
        "xavier_uniform": nn.initializers.xavier_uniform(),
        "xavier_normal": nn.initializers.xavier_normal(),
        "kaiming_uniform": nn.initializers.kaiming_uniform(),
        "kaiming_normal": nn.initializers.kaiming_normal(),
    }[INIT_METHODS[index]]
    for shape in ((300, 200), (3, 3, 16, 32)):
        ours = method_initializer(jnp.int32(index))(jax.random.key(0), shape)
        theirs = reference(jax.random.key(1), shape)
        assert float(ours.std()) == pytest.approx(float(theirs.std()), rel=0.03)
        assert float(abs(ours).max()) == pytest.approx(
            float(abs(theirs).max()), rel=0.03
        )


def test_conv3x3_im2col_equals_native_convolution_and_its_gradients():
    x = jax.random.normal(jax.random.key(0), (2, 9, 7, 3))
    params = Conv3x3(5, im2col=True).init(jax.random.key(1), x)
    params["params"]["bias"] = jnp.arange(5.0)
    weights = jax.random.normal(jax.random.key(2), (2, 9, 7, 5))

    def loss(im2col, params, x):
        return jnp.sum(weights * Conv3x3(5, im2col=im2col).apply(params, x))

    ours, theirs = (
        jax.value_and_grad(loss, argnums=(1, 2))(im2col, params, x)
        for im2col in (True, False)
    )
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_max_pool2x2_equals_flax_max_pool_and_its_gradient():
    x = jax.random.normal(jax.random.key(0), (2, 9, 7, 3))  # odd: VALID drops
    weights = jax.random.normal(jax.random.key(1), (2, 4, 3, 3))

    def loss(pool, x):
        return jnp.sum(weights * pool(x))

    flax_pool = functools.partial(nn.max_pool, window_shape=(2, 2), strides=(2, 2))
    for pool in (max_pool2x2, flax_pool):
        assert pool(x).shape == (2, 4, 3, 3)
    np.testing.assert_array_equal(max_pool2x2(x), flax_pool(x))
    gradient = jax.grad(loss, argnums=1)
    np.testing.assert_array_equal(gradient(max_pool2x2, x), gradient(flax_pool, x))


def test_cnn_preset_steps_on_colour_images():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (300, 32, 32, 3), np.uint8)
    data = at.from_arrays(x, rng.integers(0, 10, 300), train_size=100, holdout_size=50)
    env, params = at.make_env("cifar10-cnn", data=data, hidden=(4, 8), T=4, S=2)
    obs, state = env.reset(jax.random.key(0), params)
    obs, state, reward, *_ = jax.jit(env.step_env)(
        jax.random.key(1), state, jnp.int32(5), params
    )
    assert obs.shape == (5, 4) and np.isfinite(obs).all() and np.isfinite(reward)
    assert state.weights["Conv3x3_0"]["kernel"].shape == (3, 3, 3, 4)


def test_an_evaluation_draws_once_for_its_samples_and_once_for_its_noise(tiny):
    """The step scores weights three times, so each PRNG call an evaluation
    makes is compiled three times (`benchmarks/compile_time.py`): one split,
    one draw of both samples' indices, one of Thresholdout's two noises."""
    env, params, _, _ = tiny
    _, state = env.reset(jax.random.key(0), params)
    jaxpr = jax.make_jaxpr(env.trainee.evaluate)(
        jax.random.key(1), state.weights, state.task, params
    )
    counts = collections.Counter()

    def walk(jaxpr):
        for eqn in jaxpr.eqns:
            counts[eqn.primitive.name] += 1
            for sub in jax.extend.core.jaxprs_in_params(eqn.params):
                walk(sub)

    walk(jaxpr.jaxpr)
    prng = ("random_split", "random_bits", "random_fold_in", "erf_inv")
    assert {name: counts[name] for name in prng} == {
        "random_split": 1,
        "random_bits": 2,
        "random_fold_in": 0,
        "erf_inv": 1,
    }
    assert counts["dot_general"] == len(state.weights)  # one forward pass
