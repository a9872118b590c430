"""Inner optimizers by name: each is optax's own, its step scaled by the env's LR."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import doc_snippets
from optax import contrib

import autotrain_jax as at
from autotrain_jax.config import CLASSIC_OPTIMIZERS, LR_FREE_OPTIMIZERS, OPTIMIZERS
from autotrain_jax.models import make_model
from autotrain_jax.optimizers import InnerOptimizer

# What a user would write in a plain optax loop, built here independently of
# the library: the classic ones at an LR, the LR-free ones at their defaults.
CLASSIC = {
    "sgd": lambda lr: optax.sgd(lr),
    "momentum": lambda lr: optax.sgd(lr, momentum=0.9),
    "nesterov": lambda lr: optax.sgd(lr, momentum=0.9, nesterov=True),
    "adam": lambda lr: optax.adam(lr),
    "adamw": lambda lr: optax.adamw(lr),
    "rmsprop": lambda lr: optax.rmsprop(lr),
}
AT_DEFAULTS = {
    "cocob": contrib.cocob(),
    "prodigy": contrib.prodigy(),
    "dog": contrib.dog(),
    "dowg": contrib.dowg(),
    "mechanize": contrib.mechanize(optax.adam(1.0)),
    "schedule_free_sgd": contrib.schedule_free_sgd(),
    "schedule_free_adamw": contrib.schedule_free_adamw(),
}


def test_every_name_has_a_reference():
    assert set(CLASSIC) == set(CLASSIC_OPTIMIZERS)
    assert set(AT_DEFAULTS) == set(LR_FREE_OPTIMIZERS)
    assert set(OPTIMIZERS) == set(CLASSIC) | set(AT_DEFAULTS)


def _problem():
    """Weights and a sequence of gradients of a small least-squares problem."""
    keys = jax.random.split(jax.random.key(0), 3)
    weights = {"w": jax.random.normal(keys[0], (5, 3)), "b": jnp.zeros(3)}
    x = jax.random.normal(keys[1], (16, 5))
    y = jax.random.normal(keys[2], (16, 3))

    def loss(p):
        return jnp.mean((x @ p["w"] + p["b"] - y) ** 2)

    return weights, jax.grad(loss)


def _run_library(name, lr, steps=6, names=None, choice=None, member=None):
    optimizer = InnerOptimizer(names or name, member)
    weights, grad = _problem()
    state = optimizer.init(weights)
    for _ in range(steps):
        weights, state = optimizer.apply(
            grad(weights), state, weights, jnp.float32(lr), choice
        )
    return weights, state, optimizer


def _run_optax(transform, steps=6):
    weights, grad = _problem()
    state = transform.init(weights)
    for _ in range(steps):
        updates, state = transform.update(grad(weights), state, weights)
        weights = optax.apply_updates(weights, updates)
    return weights, state


def _assert_close(a, b):
    # The same optax code in one process, equal to float rounding: the LR enters
    # as a float32 array on one side and a Python float on the other, and a set's
    # `lax.switch` runs as one compiled program, whose fusions may round
    # differently from eager ops (seen: 2.4e-7 on weights of order 1).
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", CLASSIC_OPTIMIZERS)
def test_the_env_lr_is_a_classic_optimizers_lr(name):
    weights, _, _ = _run_library(name, 0.03)
    expected, _ = _run_optax(CLASSIC[name](0.03))
    _assert_close(weights, expected)


@pytest.mark.parametrize("name", LR_FREE_OPTIMIZERS)
def test_env_lr_one_runs_an_lr_free_optimizer_at_its_defaults(name):
    weights, state, _ = _run_library(name, 1.0)
    expected, expected_state = _run_optax(AT_DEFAULTS[name])
    _assert_close(weights, expected)
    _assert_close(state, expected_state)


def test_the_env_lr_scales_schedule_free_adamws_default_lr():
    weights, _, _ = _run_library("schedule_free_adamw", 0.5)
    expected, _ = _run_optax(contrib.schedule_free_adamw(0.5 * 0.0025))
    _assert_close(weights, expected)


def test_schedule_free_is_evaluated_at_its_averaged_weights():
    weights, state, optimizer = _run_library("schedule_free_adamw", 1.0)
    evaluated = optimizer.eval_weights(state, weights)
    _assert_close(evaluated, contrib.schedule_free_eval_params(state, weights))
    assert not np.allclose(evaluated["w"], weights["w"])
    _, state, optimizer = _run_library("adam", 1e-2)
    assert optimizer.eval_weights(state, weights) is weights


def test_a_set_steps_only_the_chosen_member():
    names = ("adam", "schedule_free_adamw", "cocob")
    for choice, name in enumerate(names):
        weights, states, optimizer = _run_library(
            None, 1.0, names=names, choice=jnp.int32(choice)
        )
        alone, state, _ = _run_library(name, 1.0)
        _assert_close(weights, alone)
        _assert_close(states[choice], state)
        untouched = InnerOptimizer(names).init(_problem()[0])
        for other in set(range(len(names))) - {choice}:
            _assert_close(states[other], untouched[other])
        evaluated = optimizer.eval_weights(states, weights, jnp.int32(choice))
        _assert_close(evaluated, InnerOptimizer(name).eval_weights(state, weights))


def test_a_set_is_drawn_per_episode_in_one_program():
    env, params = at.make_env("tiny", optimizer=("sgd", "adam"), initial_lr=1e-2)
    reset = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))
    step = jax.jit(jax.vmap(env.step, in_axes=(0, 0, None, None)))
    keys = jax.random.split(jax.random.key(0), 16)
    obs, state = reset(keys, params)
    assert state.task.optimizer.shape == (16,)
    assert set(np.asarray(state.task.optimizer).tolist()) == {0, 1}
    for i in range(3):
        obs, state, reward, *_ = step(
            jax.random.split(jax.random.key(i), 16), state, jnp.int32(0), params
        )
    assert obs.shape == (16, *env.observation_space(params).shape)
    assert step._cache_size() == 1
    chex_finite = jnp.all(jnp.isfinite(obs)) & jnp.all(jnp.isfinite(reward))
    assert bool(chex_finite)


def test_an_episode_keeps_its_optimizer_state_kind():
    """A one-name env's state is that optimizer's own, as optax builds it."""
    env, params = at.make_env("tiny", optimizer="prodigy")
    _, state = env.reset(jax.random.key(0), params)
    expected = contrib.prodigy().init(state.weights)
    assert jax.tree.structure(state.opt_state) == jax.tree.structure(expected)
    assert state.task.optimizer is None


def test_lr_free_optimizers_start_at_their_defaults_unless_told():
    _, params = at.make_env("tiny", optimizer="cocob")
    assert (params.initial_lr, params.lr_max) == (1.0, 10.0)
    _, params = at.make_env("tiny", optimizer="cocob", initial_lr=0.5)
    assert (params.initial_lr, params.lr_max) == (0.5, 10.0)
    _, params = at.make_env("tiny", optimizer=("cocob", "adam"))
    assert params.initial_lr == 0.01  # a mixed set has no default: the preset's


def test_schedule_free_env_accuracy_reads_the_averaged_weights():
    env, params = at.make_env("tiny", optimizer="schedule_free_adamw")
    _, state = env.reset(jax.random.key(0), params)
    step = jax.jit(env.step_env)
    for i in range(3):
        _, state, *_ = step(jax.random.key(i), state, jnp.int32(0), params)
    evaluated = contrib.schedule_free_eval_params(state.opt_state, state.weights)
    data = params.data
    model = make_model(env.config, data.num_classes)
    logits = model.apply({"params": evaluated}, data.normalize(data.test_x))
    expected = np.mean(np.argmax(logits, -1) == data.test_y)
    raw = model.apply({"params": state.weights}, data.normalize(data.test_x))
    assert abs(np.mean(np.argmax(raw, -1) == data.test_y) - expected) > 0.005
    # one example in 2,000 may flip: the env scores in batches of 256 (lax.map),
    # whose matmuls may round differently from this one over the whole split
    np.testing.assert_allclose(
        env.accuracy(state, params, "test"), expected, atol=1.5 / len(data.test_y)
    )


def test_the_docs_snippet_runs():
    (snippet,) = doc_snippets("concepts.md", "Inner optimizers")
    scope = {}
    exec(snippet, scope)
    assert scope["env"].config.optimizer == ("sgd", "adam")
    assert scope["params"].initial_lr == (1e-4, 1e-1)


def test_a_sets_member_runs_alone_with_its_own_state():
    names = ("adam", "schedule_free_adamw", "cocob")
    for member, name in enumerate(names):
        pinned_weights, pinned_state, pinned = _run_library(
            None, 1.0, names=names, member=member
        )
        alone, alone_state, alone_optimizer = _run_library(name, 1.0)
        assert jax.tree.structure(pinned_state) == jax.tree.structure(alone_state)
        _assert_close(pinned_weights, alone)
        _assert_close(
            pinned.eval_weights(pinned_state, pinned_weights),
            alone_optimizer.eval_weights(alone_state, alone),
        )


@pytest.mark.parametrize("member", [-1, 3, True, 1.0, "adam"])
def test_a_member_outside_the_set_is_refused(member):
    with pytest.raises(ValueError, match=r"optimizer member .* range\(3\)"):
        InnerOptimizer(("adam", "sgd", "cocob"), member)
