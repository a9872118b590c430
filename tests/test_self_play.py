"""The seed's self-play branch: the relative reward's reference run and the
batch-size action set."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import autotrain_jax as at
from autotrain_jax import actions
from autotrain_jax.agents.ppo import PPOConfig, make_train
from autotrain_jax.models import make_model
from autotrain_jax.training import cross_entropy


def _run(env, params, actions, key=0):
    """reset + step_env over `actions` (jitted); returns states, rewards, infos."""
    _, state = jax.jit(env.reset)(jax.random.key(key), params)
    step = jax.jit(env.step_env)
    states, rewards, infos = [state], [], []
    for t, action in enumerate(actions):
        _, state, reward, *_, info = step(
            jax.random.key(100 + t), state, action, params
        )
        states.append(state)
        rewards.append(float(reward))
        infos.append(info)
    return states, rewards, infos


def test_the_reference_run_is_the_constant_lr_run_from_the_same_key():
    env, params = at.make_env("tiny", reward="relative")
    plain, _ = at.make_env("tiny", reward="delta")
    keep = actions.keep(env.config)
    states, rewards, _ = _run(env, params, [keep] * 5)
    constant, *_ = _run(plain, params, [keep] * 5)
    # two XLA programs (with and without the reference): equal up to rounding
    for relative_state, constant_state in zip(states, constant, strict=True):
        chex.assert_trees_all_close(
            relative_state.reference.weights,
            constant_state.weights,
            rtol=1e-5,
            atol=1e-6,
        )
    # the controlled run *is* the constant run: every relative term is 0 (up to
    # the rounding of two copies of one computation), the reward is the cost alone
    cost = params.step_cost * env.config.inner_steps
    np.testing.assert_allclose(rewards, -cost, rtol=0, atol=1e-5)


def test_relative_reward_pays_for_lower_loss_than_the_reference_and_ends_by_score():
    env, params = at.make_env(
        "tiny", reward="relative", action_set="reduced", initial_lr=1e-3
    )
    faster = jnp.int32(4)  # LR x1.8 each step: trains faster than a constant 1e-3
    states, rewards, infos = _run(env, params, [faster] * 8)
    cost = params.step_cost * env.config.inner_steps
    for state, reward, info in zip(states[1:], rewards, infos, strict=True):
        ratio = np.log(np.mean(state.reference.losses) / np.mean(info["losses"]))
        term = np.clip(ratio, -params.relative_clip, params.relative_clip)
        assert term > 0  # the faster run's losses are lower
        end = reward + cost - term
        if info is infos[-1]:  # the budget's end: +-terminal by the final scores
            sign = np.sign(float(state.score) - float(state.reference.score))
            assert end == pytest.approx(sign * params.relative_terminal, abs=1e-5)
        else:
            assert end == pytest.approx(0.0, abs=1e-5)


def test_self_play_scales_the_batch_within_its_range_and_counts_samples():
    env, params = at.make_env("tiny", action_set="self_play")
    config = env.config
    assert config.batch_range == (8, 64)
    grow, shrink = jnp.array([0.0, 1.0, -1.0, -1.0]), jnp.array([0.0, -1.0, -1, -1])
    states, *_ = _run(env, params, [grow] * 3 + [shrink] * 5)
    sizes = [int(s.batch_size) for s in states]
    assert sizes == [32, 64, 64, 64, 32, 16, 8, 8, 8]
    samples = np.diff([int(s.inner_samples) for s in states])
    np.testing.assert_array_equal(samples, config.inner_steps * np.array(sizes[1:]))
    stop = jnp.array([0.0, 0.0, -1.0, 1.0])
    *_, info = jax.jit(env.step_env)(jax.random.key(9), states[-1], stop, params)
    assert int(info["inner_samples"]) == 0


def test_the_loss_is_averaged_over_the_first_b_examples_only():
    env, params = at.make_env("tiny")
    model = make_model(env.config, 10)
    weights = model.init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))["params"]
    x = params.data.normalize(params.data.train_x[:16])
    y = params.data.train_y[:16]
    logits = model.apply({"params": weights}, x)
    per_example = np.asarray(optax.softmax_cross_entropy_with_integer_labels(logits, y))
    for size in (1, 5, 16):
        loss = cross_entropy(model, weights, x, y, jnp.int32(size))
        assert float(loss) == pytest.approx(per_example[:size].mean(), rel=1e-5)


@pytest.mark.parametrize("name", at.registered_envs())
def test_relative_and_self_play_work_with_every_preset(name):
    preset = at.PRESETS[name]
    shape = (32, 32, 3) if preset.dataset == "cifar10" else (28, 28, 1)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (64, *shape), dtype=np.uint8)
    data = at.from_arrays(x, rng.integers(0, 10, 64), train_size=32, holdout_size=16)
    env, params = at.make_env(
        name,
        data=data,
        action_set="self_play",
        reward="relative",
        T=2,
        S=1,
        batch_size=4,
        eval_batch_size=8,
    )
    _, state = env.reset(jax.random.key(0), params)
    action = jnp.array([0.5, 0.5, -1.0, -1.0])
    obs, state, reward, *_ = jax.jit(env.step)(jax.random.key(1), state, action, params)
    chex.assert_shape(obs, (env.config.history, env.config.record_size))
    chex.assert_tree_all_finite((obs, reward, state.reference.weights))


def test_ppo_trains_on_self_play_with_the_relative_reward():
    env, params = at.make_env("tiny", action_set="self_play", reward="relative")
    config = PPOConfig(num_envs=4, num_steps=4, num_updates=2, num_minibatches=2)
    runner, metrics = jax.jit(make_train(config, env))(jax.random.key(0), params)
    chex.assert_tree_all_finite((runner.agent_params, metrics["value_loss"]))
    assert metrics["actions"].shape == (2, 4)
