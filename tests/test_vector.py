"""A batch of envs grouped by inner optimizer: each group runs its member alone."""

import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import autotrain_jax as at
from autotrain_jax import sharding, vector
from autotrain_jax.agents.ppo import PPOConfig, make_train
from autotrain_jax.agents.ppo.run import train_in_chunks

NAMES = ("sgd", "adam")


@pytest.fixture(scope="module")
def mixed():
    return at.make_env("tiny", optimizer=NAMES, initial_lr=(1e-3, 1e-1))


def test_groups_spread_the_set_evenly_over_consecutive_rows():
    env, _ = at.make_env("tiny", optimizer=("sgd", "momentum", "adam", "rmsprop"))
    groups = env.batch_groups(10)
    assert [(g.start, g.stop) for g, _ in groups] == [(0, 3), (3, 5), (5, 8), (8, 10)]
    for member, (rows, pinned) in enumerate(groups):
        assert pinned.optimizer_member == member
        assert all(r * 4 // 10 == member for r in rows)  # as the docstring says
    single, _ = at.make_env("tiny")
    assert single.batch_groups(10) == ((range(10), single),)
    with pytest.raises(ValueError, match="num_envs .*3.* at least .*4"):
        env.batch_groups(3)  # one optimizer would never run


def test_a_pinned_env_runs_the_episode_the_set_draws_for_that_member(mixed):
    env, params = mixed
    keys = jax.random.split(jax.random.key(0), 16)
    _, state = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(keys, params)
    drawn = np.asarray(state.task.optimizer)
    actions = jnp.full(16, at.actions.keep(env.config))
    step_keys = jax.random.split(jax.random.key(1), 16)
    step = jax.vmap(env.step, in_axes=(0, 0, 0, None))
    obs_set, _, reward_set, *_ = jax.jit(step)(step_keys, state, actions, params)
    for member in range(len(NAMES)):
        rows = np.flatnonzero(drawn == member)
        assert len(rows) >= 2
        pinned = env.pinned(member)
        reset = jax.jit(jax.vmap(pinned.reset, in_axes=(0, None)))
        obs, alone = reset(keys[rows], params)
        assert np.all(np.asarray(alone.task.optimizer) == member)
        together = jax.tree.map(lambda leaf, r=rows: leaf[r], state)
        # the same draws of every other setting, the member's state alone
        np.testing.assert_array_equal(alone.task.initial_lr, together.task.initial_lr)
        assert jax.tree.structure(alone.opt_state) == jax.tree.structure(
            together.opt_state[member]
        )
        step_pinned = jax.jit(jax.vmap(pinned.step, in_axes=(0, 0, 0, None)))
        obs, _, reward, *_ = step_pinned(step_keys[rows], alone, actions[rows], params)
        # Two programs (a switch over both members against one member, on
        # batches of other sizes) may round differently in the last bits, on
        # another CPU enough to flip one of the eval batch's predictions:
        # accuracies and scores then move by 1/eval_batch_size. The other
        # member's step moves them far more.
        atol = 1.5 / env.config.eval_batch_size
        np.testing.assert_allclose(obs, obs_set[rows], rtol=1e-4, atol=atol)
        np.testing.assert_allclose(reward, reward_set[rows], rtol=1e-4, atol=atol)


def test_a_grouped_batch_steps_in_one_program_with_each_groups_member(mixed):
    env, params = mixed
    batch = vector.batched(env, 6, grouped=True)
    reset, step = jax.jit(batch.reset), jax.jit(batch.step)
    obs, states = reset(jax.random.split(jax.random.key(0), 6), params)
    assert obs.shape == (6, *env.observation_space(params).shape)
    assert len(states) == len(NAMES)
    actions = jnp.zeros(6, jnp.int32)
    for i in range(3):  # some envs of the random actions end their episodes
        keys = jax.random.split(jax.random.key(i), 6)
        actions = jax.random.randint(jax.random.key(10 + i), (6,), 0, env.num_actions)
        obs, states, reward, terminated, truncated, info = step(
            keys, states, actions, params
        )
        assert obs.shape == (6, *env.observation_space(params).shape)
        assert reward.shape == terminated.shape == info["lr"].shape == (6,)
        assert bool(jnp.all(jnp.isfinite(obs)) & jnp.all(jnp.isfinite(reward)))
    for member, state in enumerate(states):
        np.testing.assert_array_equal(state.task.optimizer, [member] * 3)
    assert step._cache_size() == 1


def test_grouping_needs_an_env_that_defines_groups_and_one_process(mixed):
    cartpole, cartpole_params = gymnax.make("CartPole-v1")
    with pytest.raises(ValueError, match="batch_groups"):
        vector.batched(cartpole, 4, grouped=True)
    env, params = mixed
    batch = vector.batched(env, 4, grouped=True)
    with pytest.raises(ValueError, match="all its rows"):
        batch.reset(jax.random.split(jax.random.key(0), 2), params, range(2, 4))
    config = PPOConfig(num_envs=4, num_steps=2, num_updates=1, group_envs=True)
    with pytest.raises(ValueError, match="group_envs"):
        train_in_chunks(
            config, env, params, jax.random.key(0), mesh=sharding.env_mesh()
        )


def test_ppo_trains_on_a_grouped_batch(mixed):
    env, params = mixed
    config = PPOConfig(
        num_envs=4, num_steps=4, num_updates=2, num_minibatches=2, group_envs=True
    )
    train = jax.jit(make_train(config, env))
    runner, metrics = train(jax.random.key(0), params)
    assert [int(s.task.optimizer[0]) for s in runner.env_state] == [0, 1]
    assert runner.obs.shape == (4, *env.observation_space(params).shape)
    assert metrics["reward"].shape == (2,)
    assert bool(jnp.all(jnp.isfinite(metrics["reward"])))
    assert train._cache_size() == 1
