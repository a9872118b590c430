"""Each hand-made baseline does what it says."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import autotrain_jax as at
from autotrain_jax import actions, baselines
from autotrain_jax.evaluation import evaluate, summarize
from autotrain_jax.observation import newest_lr_and_score
from autotrain_jax.rollout import rollout


@pytest.fixture(scope="module")
def continuous():
    env, params = at.make_env("tiny", action_set="continuous", max_lr_factor=10.0)
    return env, params


def lr_trace(env, params, policy, steps=8):
    """The LR each step trained with, under `policy`."""
    log, _ = jax.jit(lambda key: rollout(env, params, policy, key, steps))(
        jax.random.key(0)
    )
    return np.asarray(log["lr"])


@pytest.mark.parametrize("observation", ["original", "extended", "scale_free"])
def test_schedules_follow_their_formulas(observation):
    env, params = at.make_env(
        "tiny", action_set="continuous", max_lr_factor=10.0, observation=observation
    )
    lr0 = params.initial_lr
    steps = np.arange(8)
    tuned = baselines.constant(env, params, lr=3 * lr0)  # set on the first step
    np.testing.assert_allclose(lr_trace(env, params, tuned), 3 * lr0, rtol=1e-5)
    decay = lr_trace(
        env, params, baselines.step_decay(env, params, every=3, factor=0.5)
    )
    np.testing.assert_allclose(decay, lr0 * 0.5 ** (steps // 3), rtol=1e-5)
    cosine = lr_trace(env, params, baselines.cosine_decay(env, params, horizon=8))
    expected = lr0 * (0.01 + 0.99 * 0.5 * (1 + np.cos(np.pi * steps / 8)))
    np.testing.assert_allclose(cosine, expected, rtol=1e-4)


def test_random_policy_is_uniform_over_the_action_set():
    env, _ = at.make_env("tiny")  # full set: 3H + 2 = 11 actions
    policy = baselines.random_policy(env)
    keys = jax.random.split(jax.random.key(0), 11_000)
    actions, _ = jax.vmap(policy.act, in_axes=(0, None, None))(keys, None, ())
    counts = np.bincount(np.asarray(actions), minlength=env.num_actions)
    assert len(counts) == env.num_actions
    assert np.all(np.abs(counts - 1000) < 150), counts  # ~5 sd of a binomial


def scripted(env, params, scores):
    """Obs sequence whose newest record carries the given scores."""
    k = env.config.num_losses
    obs = np.zeros((len(scores), *env.observation_space().shape), np.float32)
    obs[:, -1, k] = params.initial_lr
    obs[:, -1, k + 1] = scores
    return jnp.asarray(obs)


def test_reduce_on_plateau_cuts_the_lr_after_patience_steps(continuous):
    env, params = continuous
    policy = baselines.reduce_on_plateau(env, params, patience=2, factor=0.5)
    state, factors = policy.init(), []
    for obs in scripted(env, params, [0, 0.5, 0.6, 0.6, 0.55, 0.6, 0.7, 0.7, 0.7]):
        action, state = policy.act(None, obs, state)
        factors.append(float(at.decode(action, params, env.config).lr_factor))
    np.testing.assert_allclose(factors, [1, 1, 1, 1, 0.5, 1, 1, 1, 0.5], rtol=1e-5)


def test_early_stopping_restores_the_best_scoring_weights(continuous):
    env, params = continuous
    policy = baselines.early_stopping(env, params, patience=2)
    state = policy.init()
    controls = []
    for obs in scripted(env, params, [0, 0.5, 0.7, 0.6, 0.65]):
        action, state = policy.act(None, obs, state)
        controls.append(at.decode(action, params, env.config))
    assert [bool(c.stop) for c in controls] == [False] * 4 + [True]
    assert int(controls[-1].rewind) == 2  # back to the 0.7 record's weights
    with pytest.raises(ValueError, match="patience"):
        baselines.early_stopping(env, params, patience=env.config.history)

    # end to end: the final weights are exactly the best-scoring ones seen
    params = params.replace(max_steps_in_episode=24)  # room for it to fire
    _, final = rollout(
        env, params, baselines.early_stopping(env, params), jax.random.key(4)
    )
    assert int(final.time) < 24
    assert float(final.score) == float(jnp.max(final.weight_history.snapshots[2]))


def test_pbt_exploit_copies_a_better_member_and_explore_perturbs_its_lr(continuous):
    env, params = continuous
    _, states = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(jax.random.key(0), 4), params
    )
    states = states.replace(score=jnp.array([0.2, 0.9, 0.5, 0.1]))
    new = baselines.exploit_explore(states, jax.random.key(1), 1, (0.8, 1.2), params)
    chex.assert_trees_all_equal(  # member 3 (worst) now holds member 1's (best) weights
        jax.tree.map(lambda x: x[3], new.weights),
        jax.tree.map(lambda x: x[1], states.weights),
    )
    assert float(new.score[3]) == pytest.approx(0.9)
    ratio = float(new.lr[3] / states.lr[1])
    assert min(abs(ratio - 0.8), abs(ratio - 1.2)) < 1e-6
    chex.assert_trees_all_equal(  # the others are untouched
        jax.tree.map(lambda x: x[:3], new.weights),
        jax.tree.map(lambda x: x[:3], states.weights),
    )


def test_pbt_rollout_runs_a_population_in_one_jit(continuous):
    env, params = continuous
    params = params.replace(max_steps_in_episode=4)
    states = jax.jit(
        lambda key: baselines.pbt_rollout(env, params, key, population=4, interval=2)
    )(jax.random.key(0))
    assert states.score.shape == (4,) and np.all(np.asarray(states.time) == 4)
    chex.assert_tree_all_finite(states.weights)


def test_evaluate_reports_per_seed_results_and_a_confidence_interval(continuous):
    env, params = continuous
    keys = jax.random.split(jax.random.key(0), 3)
    results = evaluate(env, params, baselines.constant(env, params), keys)
    assert results["test_accuracy"].shape == (3,)
    np.testing.assert_array_equal(results["inner_steps"], 8 * 10)
    summary = summarize(results["test_accuracy"])
    assert summary["n"] == 3 and summary["ci95"] > 0
    # sd sqrt(2) over sqrt(2) seeds: the half-width is t(0.975, 1 dof), 12.706
    assert summarize([1.0, 3.0])["ci95"] == pytest.approx(12.706, rel=1e-4)
    forty = np.tile([0.0, 1.0], 20)  # 39 dof: 2.023 (the normal's 1.96 is too narrow)
    half = summarize(forty)["ci95"] * np.sqrt(40) / forty.std(ddof=1)
    assert half == pytest.approx(2.0227, rel=1e-4)


@pytest.mark.parametrize("action_set", ["full", "reduced"])
def test_discrete_actions_round_trip_through_the_continuous_set(action_set):
    config = at.EnvConfig(history=4, action_set=action_set)
    continuous = at.EnvConfig(history=4, action_set="continuous")
    params = at.EnvParams(data=None, max_lr_factor=10.0)
    for action in range(at.num_actions(config)):
        control = at.decode(jnp.int32(action), params, config)
        encoded = at.encode_continuous(control, params, config.history)
        again = at.decode(encoded, params, continuous)
        np.testing.assert_allclose(again.lr_factor, control.lr_factor, rtol=1e-6)
        for field in ("rewind", "reinit", "stop", "invalid"):
            assert getattr(again, field) == getattr(control, field), (action, field)


def test_in_continuous_needs_room_for_the_sets_lr_factors():
    env, params = at.make_env("tiny", action_set="reduced")
    with pytest.raises(ValueError, match="max_lr_factor must be >= 5"):
        baselines.in_continuous(baselines.random_policy(env), env, params)


def test_pbt_member_0_starts_from_the_weights_every_other_row_starts_from(continuous):
    env, params = continuous
    key = jax.random.key(3)
    population = baselines.pbt_rollout(env, params, key, population=4, num_steps=0)
    _, alone = rollout(env, params, baselines.constant(env, params), key, 0)
    chex.assert_trees_all_equal(
        jax.tree.map(lambda x: x[0], population.weights), alone.weights
    )
    first = population.weights["Dense_0"]["kernel"]
    assert not np.allclose(first[1], first[0])  # the others differ


@pytest.mark.parametrize("observation", ["original", "extended", "scale_free"])
def test_baselines_read_the_lr_and_score_the_env_recorded(observation):
    env, params = at.make_env("tiny", observation=observation, initial_lr=0.03)
    obs, state = env.reset(jax.random.key(0), params)
    assert newest_lr_and_score(env.config, obs) == (0.0, 0.0)  # no record yet
    obs, state, _, _, info = jax.jit(env.step_env)(
        jax.random.key(1), state, actions.keep(env.config), params
    )
    lr, score = newest_lr_and_score(env.config, obs)
    np.testing.assert_allclose([lr, score], [info["lr"], info["score"]], rtol=1e-6)
