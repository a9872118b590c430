"""The MDP: vectorisation, compilation, actions, rewind, re-init, stop, divergence."""

import dataclasses
import functools
import operator

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import autotrain_jax as at
from autotrain_jax import actions, baselines
from autotrain_jax.actions import control_name
from autotrain_jax.rollout import rollout


def run_steps(step, key, state, actions, params):
    """Python loop over a jitted step_env; returns the states and infos."""
    states, infos, observations = [state], [], []
    for i, action in enumerate(actions):
        obs, state, reward, terminated, info = step(
            jax.random.fold_in(key, i), state, action, params
        )
        states.append(state)
        infos.append(info)
        observations.append(obs)
    return states, infos, observations


def test_vmapped_step_over_64_envs_compiles_once(tiny):
    env, params, _, _ = tiny
    chex.clear_trace_counter()

    @chex.assert_max_traces(n=1)
    def reset(key, params):
        return env.reset(key, params)

    @chex.assert_max_traces(n=1)
    def step(key, state, action, params):
        return env.step(key, state, action, params)

    batch_reset = jax.jit(jax.vmap(reset, in_axes=(0, None)))
    batch_step = jax.jit(jax.vmap(step, in_axes=(0, 0, 0, None)))
    obs, state = batch_reset(jax.random.split(jax.random.key(0), 64), params)
    for i in range(3):
        keys = jax.random.split(jax.random.key(i + 1), 64)
        action = jax.random.randint(keys[0], (64,), 0, env.num_actions)
        obs, state, reward, terminated, truncated, info = batch_step(
            keys, state, action, params
        )
    jax.block_until_ready(obs)
    chex.assert_shape(obs, (64, env.config.history, env.config.record_size))
    chex.assert_shape([reward, terminated, truncated], (64,))
    assert obs.dtype == jnp.float32 and reward.dtype == jnp.float32
    chex.assert_tree_all_finite((obs, reward, state.weights))


def test_a_batch_where_some_envs_reinit_steps_each_env_as_it_steps_alone(tiny):
    """The lazy re-init draws for the asking envs only (8 at a time in a batch
    of 16); every env's weights, score and history match the env stepped on its
    own (rtol 1e-5: a gathered chunk is another XLA program than one env)."""
    env, params, reset, _ = tiny
    keys = jax.random.split(jax.random.key(3), 16)
    _, state = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(keys, params)
    keep, reinit = actions.keep(env.config), actions.reinit(env.config)
    batch_step = jax.jit(jax.vmap(env.step, in_axes=(0, 0, 0, None)))
    state = batch_step(keys, state, jnp.full(16, keep), params)[1]
    action = jnp.where(jnp.arange(16) % 3 == 0, reinit, keep)
    step_keys = jax.random.split(jax.random.key(4), 16)
    batched = batch_step(step_keys, state, action, params)[1]
    step = jax.jit(env.step)
    for i in range(16):
        row = functools.partial(jax.tree.map, operator.itemgetter(i))
        alone = step(step_keys[i], row(state), action[i], params)[1]
        assert int(batched.weight_history.count[i]) == (2 if i % 3 == 0 else 3)
        chex.assert_trees_all_close(row(batched), alone, rtol=1e-5, atol=1e-6)


def test_same_key_gives_identical_trajectory(tiny):
    env, params, reset, step = tiny
    actions = [jnp.int32(a) for a in (3, 5, 0, 7, 4, 9)]

    def trajectory():
        _, state = reset(jax.random.key(7), params)
        return run_steps(step, jax.random.key(8), state, actions, params)

    first, second = trajectory(), trajectory()
    chex.assert_trees_all_equal(first, second)


def test_full_action_set_has_3h_plus_2_actions():
    for history in (1, 4, 7):
        config = at.EnvConfig(history=history, action_set="full")
        assert at.num_actions(config) == 3 * history + 2


@pytest.mark.parametrize("history", [2, 7])
def test_full_decoding_and_labels_agree_for_any_h(tiny, history):
    _, params, _, _ = tiny
    config = at.EnvConfig(history=history)
    ids = jnp.arange(3 * history + 2)
    control = jax.vmap(lambda a: at.decode(a, params, config))(ids)
    factors = (0.9, 1.0, 1.1)
    for i in range(3 * history):
        assert float(control.lr_factor[i]) == pytest.approx(factors[i // history])
        assert int(control.rewind[i]) == i % history
        name = control_name(
            float(control.lr_factor[i]), int(control.rewind[i]), False, False
        )
        rewind = f", rewind {i % history}" if i % history else ""
        assert name == f"lr x{factors[i // history]:.3g}{rewind}"
    assert bool(control.reinit[3 * history]) and not bool(control.stop[3 * history])
    assert bool(control.stop[3 * history + 1])
    assert not bool(control.invalid.any())
    assert control_name(1.0, 0, False, True) == "stop"


def _expected_controls(action_set, actions, history):
    """(LR factor, rewind, re-init, stop) per action, as docs/concepts.md says."""
    if action_set == "full":
        ids = np.asarray(actions)
        move = ids < 3 * history
        factor = np.where(
            move, np.array([0.9, 1.0, 1.1])[np.minimum(ids // history, 2)], 1
        )
        return (
            factor,
            np.where(move, ids % history, 0),
            ids == 3 * history,
            ids == 3 * history + 1,
        )
    if action_set == "reduced":
        ids = np.asarray(actions)
        factor = np.array([1.0, 0.8, 0.2, 1.2, 1.8, 1.0, 1.0])[ids]
        return factor, np.zeros_like(ids), ids == 5, ids == 6
    a = np.asarray(actions, np.float64)
    stop = a[:, 3] > 0.5
    reinit = (a[:, 2] > 0.5) & ~stop
    factor = np.where(stop | reinit, 1.0, 2.0 ** a[:, 0])
    rewind = np.where(reinit, 0, np.round((a[:, 1] + 1) / 2 * (history - 1)))
    return factor, rewind, reinit, stop


def test_every_action_of_every_set_does_what_it_says(tiny):
    env, params, _, _ = tiny
    history = env.config.history
    for action_set in ("full", "reduced", "continuous"):
        config = dataclasses.replace(env.config, action_set=action_set)
        env_set = at.AutoTrainEnv(config, params)
        _, state = env_set.reset(jax.random.key(0), params)
        keep = at.actions.keep(config)
        states, _, _ = run_steps(
            jax.jit(env_set.step_env), jax.random.key(1), state, [keep] * 3, params
        )
        state = states[-1]  # a full history: H entries to rewind through
        assert int(state.weight_history.count) == history
        if action_set == "continuous":
            grid = jnp.linspace(-1, 1, 5)
            all_actions = jnp.stack(jnp.meshgrid(grid, grid, grid, grid), -1)
            all_actions = all_actions.reshape(-1, 4)
        else:
            all_actions = jnp.arange(env_set.num_actions)
        step = jax.jit(jax.vmap(env_set.step_env, in_axes=(None, None, 0, None)))
        obs, new, reward, terminated, info = step(
            jax.random.key(1), state, all_actions, params
        )
        chex.assert_tree_all_finite((obs, reward))
        factor, rewind, reinit, stop = _expected_controls(
            action_set, all_actions, history
        )
        expected_lr = np.clip(float(state.lr) * factor, params.lr_min, params.lr_max)
        np.testing.assert_allclose(new.lr, expected_lr, rtol=1e-6)
        np.testing.assert_array_equal(info["reinit"], reinit)
        np.testing.assert_array_equal(terminated, stop)
        np.testing.assert_array_equal(info["inner_steps"][stop], 0)
        # entries left after the rewind (or re-init), plus the trained one
        count = np.where(reinit, 2, np.minimum(history - rewind + 1, history))
        np.testing.assert_array_equal(
            new.weight_history.count, np.where(stop, history - rewind, count)
        )
        assert stop.any() and reinit.any()
        assert (rewind > 0).any() == (action_set != "reduced")


def test_rewind_restores_the_weights_saved_r_steps_earlier_bit_exactly(tiny):
    env, params, reset, step = tiny
    history = env.config.history
    _, state = reset(jax.random.key(0), params)
    keep = actions.keep(env.config)
    states, _, _ = run_steps(step, jax.random.key(1), state, [keep] * 4, params)
    for r in range(1, history):
        rewind = jnp.int32(history + r)  # LR x1.0, rewind r
        _, rewound, _, _, info = step(jax.random.key(9), states[-1], rewind, params)
        assert int(info["rewind"]) == r
        restored = rewound.weight_history
        before_training = jax.tree.map(
            lambda leaf, h=restored: leaf[(h.head - 1) % history], restored.snapshots
        )
        chex.assert_trees_all_equal(before_training[0], states[-1 - r].weights)
        chex.assert_trees_all_equal(before_training[1], states[-1 - r].opt_state)
        assert int(restored.count) == history - r + 1
        assert float(rewound.lr) == float(states[-1].lr)


def _before_training(state):
    """The snapshot a step trained from: the entry before the newest."""
    history = state.weight_history
    return jax.tree.map(
        lambda leaf: leaf[(history.head - 1) % history.size], history.snapshots
    )


def _biases(weights):
    return [v["bias"] for v in weights.values()]


def test_rewind_past_the_oldest_entry_clamps_or_reinits(tiny):
    env, params, reset, step = tiny
    _, fresh = reset(jax.random.key(0), params)
    _, state = step(jax.random.key(1), fresh, actions.keep(env.config), params)[:2]
    far = jnp.int32(2 * env.config.history - 1)  # LR x1, rewind H - 1 > count - 1
    _, clamped, *_, info = step(jax.random.key(2), state, far, params)
    assert not bool(info["reinit"])
    chex.assert_trees_all_equal(_before_training(clamped)[0], fresh.weights)
    assert int(clamped.weight_history.count) == 2  # the oldest + the trained

    config = dataclasses.replace(env.config, rewind_past_oldest="reinit")
    prototype_env = at.AutoTrainEnv(config, params)
    _, reinit, *_, info = jax.jit(prototype_env.step_env)(
        jax.random.key(2), state, far, params
    )
    assert bool(info["reinit"])  # implicit, and reported
    new_weights = _before_training(reinit)[0]
    for bias in _biases(new_weights):  # freshly initialised: biases start at zero
        np.testing.assert_array_equal(bias, 0.0)
    kernel = new_weights["Dense_0"]["kernel"]
    assert not np.allclose(kernel, fresh.weights["Dense_0"]["kernel"])
    assert not np.allclose(kernel, state.weights["Dense_0"]["kernel"])
    assert int(reinit.weight_history.count) == 2  # fresh + trained


def test_stop_wins_over_the_implicit_reinit_past_the_oldest(tiny):
    env, params, reset, step = tiny
    _, fresh = reset(jax.random.key(0), params)
    _, state = step(jax.random.key(1), fresh, actions.keep(env.config), params)[:2]
    config = dataclasses.replace(
        env.config, rewind_past_oldest="reinit", action_set="continuous"
    )
    prototype_env = at.AutoTrainEnv(config, params)
    stop_rewind_far = jnp.array([0.0, 1.0, -1.0, 1.0])  # rewind H - 1, stop
    _, stopped, reward, terminated, info = jax.jit(prototype_env.step_env)(
        jax.random.key(2), state, stop_rewind_far, params
    )
    assert bool(terminated) and not bool(info["reinit"])
    chex.assert_trees_all_equal(stopped.weights, fresh.weights)  # the oldest entry
    assert float(stopped.score) == float(fresh.score)


def test_fresh_weights_carry_the_score_they_have(tiny):
    env, params, reset, step = tiny
    _, fresh = reset(jax.random.key(0), params)
    holdout = float(env.accuracy(fresh, params, "holdout"))
    assert float(fresh.score) > 0.0 and abs(float(fresh.score) - holdout) < 0.15
    _, state = step(jax.random.key(1), fresh, actions.keep(env.config), params)[:2]
    config = dataclasses.replace(env.config, action_set="continuous")
    continuous = at.AutoTrainEnv(config, params)
    stop_rewind_1 = jnp.array([0.0, 0.0, -1.0, 1.0])  # back onto the fresh weights
    _, stopped, reward, *_ = jax.jit(continuous.step_env)(
        jax.random.key(2), state, stop_rewind_1, params
    )
    chex.assert_trees_all_equal(stopped.weights, fresh.weights)
    assert float(stopped.score) == float(fresh.score)
    final = params.final_reward_scale * float(fresh.score)
    assert float(reward) == pytest.approx(final - 0.05, abs=1e-5)  # score fell


def test_reinit_changes_weights_and_clears_history(tiny):
    env, params, reset, step = tiny
    _, state = reset(jax.random.key(0), params)
    keep = actions.keep(env.config)
    states, _, _ = run_steps(step, jax.random.key(1), state, [keep] * 3, params)
    reinit = actions.reinit(env.config)
    _, fresh, _, terminated, info = step(jax.random.key(5), states[-1], reinit, params)
    assert bool(info["reinit"]) and not bool(terminated)
    assert int(fresh.weight_history.count) == 2
    trained_from = _before_training(fresh)[0]
    for bias in _biases(trained_from):  # freshly initialised: biases start at zero
        np.testing.assert_array_equal(bias, 0.0)
    for earlier in states:
        kernel = earlier.weights["Dense_0"]["kernel"]
        assert not np.allclose(trained_from["Dense_0"]["kernel"], kernel)


def test_stop_terminates_with_the_final_reward_and_no_training(tiny):
    env, params, reset, step = tiny
    _, state = reset(jax.random.key(0), params)
    _, state, *_ = step(jax.random.key(1), state, actions.keep(env.config), params)
    stop = actions.stop(env.config)
    obs, stopped, reward, terminated, info = step(
        jax.random.key(2), state, stop, params
    )
    assert bool(terminated) and not bool(env.is_truncated(stopped, params))
    assert float(reward) == pytest.approx(
        params.final_reward_scale * float(state.score)
    )
    chex.assert_trees_all_equal(stopped.weights, state.weights)
    np.testing.assert_array_equal(obs, state.records)
    assert int(info["inner_steps"]) == 0


def test_the_budget_end_terminates_and_auto_reset_returns_final_observation(tiny):
    env, params, _, _ = tiny
    obs, state = env.reset(jax.random.key(0), params)
    step = jax.jit(env.step)
    for t in range(int(params.max_steps_in_episode)):
        obs, state, reward, terminated, truncated, info = step(
            jax.random.key(t + 1), state, actions.keep(env.config), params
        )
        last = t + 1 == params.max_steps_in_episode
        assert bool(terminated) == last and not bool(truncated)
    assert int(state.time) == 0 and not np.any(obs)  # a new episode began
    assert np.any(info["final_observation"])
    final = params.final_reward_scale * float(info["score"])
    # float32 sum of ~9 + 0.05: within a few ulp of 9
    assert abs(float(reward) - final) == pytest.approx(params.inter_reward, abs=1e-5)


def test_observation_holds_the_last_h_records_with_every_loss_slot(tiny):
    env, params, reset, step = tiny
    history, num_losses = env.config.history, env.config.num_losses
    obs, state = reset(jax.random.key(0), params)
    np.testing.assert_array_equal(obs, 0.0)
    steps = history + 2
    _, infos, observations = run_steps(
        step, jax.random.key(1), state, [actions.keep(env.config)] * steps, params
    )
    np.testing.assert_array_equal(observations[0][:-1], 0.0)  # zero-padded
    last = observations[-1]
    for row, info in zip(last, infos[-history:], strict=True):
        np.testing.assert_allclose(row[:num_losses], info["losses"], rtol=1e-6)
        np.testing.assert_allclose(row[num_losses], info["lr"])
        np.testing.assert_allclose(row[num_losses + 1], info["score"])
    assert np.all(last[:, num_losses - 1] > 0)  # the last loss slot is written


def test_extended_observation_and_warm_start(tiny):
    env, params, _, _ = tiny
    config = dataclasses.replace(env.config, observation="extended", warm_start=True)
    warm = at.AutoTrainEnv(config, params)
    obs, state = jax.jit(warm.reset)(jax.random.key(0), params)
    chex.assert_shape(obs, (config.history, config.num_losses + 5))
    assert not np.any(obs[0]) and np.all(obs[1:, 0] > 0)  # H - 1 warm records
    assert int(state.weight_history.count) == config.history
    obs, *_ = jax.jit(warm.step_env)(jax.random.key(1), state, jnp.int32(3), params)
    # XLA's log10 and numpy's may differ in the last bit (AVX2 vs AVX-512): 4 ulp.
    log_lr = np.log10(np.float64(obs[-1, config.num_losses]))
    np.testing.assert_allclose(obs[-1, -3], log_lr, rtol=5e-7)
    assert float(obs[-1, -1]) == pytest.approx(1 / float(params.max_steps_in_episode))


def test_repeated_lr_increase_diverges_and_is_handled():
    env, params = at.make_env(
        "tiny",
        action_set="reduced",
        initial_lr=1e3,  # one good step, then divergence (dead ReLUs never diverge)
        lr_max=1e12,
        max_steps_in_episode=100,
    )
    _, state = env.reset(jax.random.key(0), params)
    step = jax.jit(env.step_env)
    for t in range(40):
        obs, new_state, reward, terminated, info = step(
            jax.random.key(t),
            state,
            jnp.int32(4),
            params,  # LR x1.8
        )
        chex.assert_tree_all_finite((obs, reward, new_state.weights))
        if bool(info["diverged"]):
            break
        state = new_state
    assert bool(info["diverged"]) and bool(terminated)
    assert float(reward) == params.divergence_penalty
    assert float(obs[-1, 0]) == params.max_loss  # non-finite loss shown as max_loss
    np.testing.assert_array_equal(info["losses"], obs[-1, : env.config.num_losses])
    chex.assert_trees_all_equal(new_state.weights, state.weights)  # last good weights


def test_stop_is_never_penalised_for_the_training_it_skips():
    env, params = at.make_env(
        "tiny", action_set="reduced", lr_max=1e12, max_steps_in_episode=100
    )
    _, state = env.reset(jax.random.key(0), params)
    step = jax.jit(env.step_env)
    _, state, *_ = step(jax.random.key(1), state, jnp.int32(0), params)  # a score
    state = state.replace(lr=jnp.float32(1e10))
    *_, info = step(jax.random.key(2), state, jnp.int32(0), params)
    assert bool(info["diverged"])  # training at this LR diverges...
    _, _, reward, terminated, info = step(
        jax.random.key(2), state, jnp.int32(6), params
    )
    assert bool(terminated) and not bool(info["diverged"])  # ...but a stop skips it
    assert float(reward) == pytest.approx(
        params.final_reward_scale * float(state.score)
    )


def test_continuous_stop_with_rewind_keeps_earlier_weights_and_their_score(tiny):
    env, params, reset, step = tiny
    _, state = reset(jax.random.key(0), params)
    states, _, _ = run_steps(
        step, jax.random.key(1), state, [actions.keep(env.config)] * 2, params
    )
    config = dataclasses.replace(env.config, action_set="continuous")
    continuous = at.AutoTrainEnv(config, params)
    stop_rewind_1 = jnp.array([0.0, 0.0, -1.0, 1.0])  # rewind round(0.5 * 2) = 1
    _, stopped, reward, terminated, _ = jax.jit(continuous.step_env)(
        jax.random.key(3), states[-1], stop_rewind_1, params
    )
    assert bool(terminated)
    chex.assert_trees_all_equal(stopped.weights, states[-2].weights)
    assert float(stopped.score) == float(states[-2].score)
    final = params.final_reward_scale * float(states[-2].score)
    change = float(states[-2].score) - float(states[-1].score)
    assert float(reward) == pytest.approx(final + 0.05 * np.sign(change), abs=1e-5)


@pytest.mark.parametrize("reward", ["prototype", "step_cost", "delta"])
def test_rewards(tiny, reward):
    env, params, _, _ = tiny
    config = dataclasses.replace(env.config, reward=reward)
    env = at.AutoTrainEnv(config, params)
    _, state = env.reset(jax.random.key(0), params)
    state = state.replace(score=jnp.float32(0.5))
    _, new, r, *_ = jax.jit(env.step_env)(
        jax.random.key(1), state, jnp.int32(3), params
    )
    change = float(new.score) - 0.5
    expected = {
        "prototype": 0.05 * np.sign(change),
        "step_cost": np.sign(change) - 1e-3 * config.inner_steps,
        "delta": change,
    }[reward]
    assert float(r) == pytest.approx(expected, abs=1e-6)


def test_mnist_mlp_constant_lr_learns_on_real_data():
    env, params = at.make_env("mnist-mlp")
    _, state = env.reset(jax.random.key(0), params)
    step = jax.jit(env.step_env)
    keep = actions.keep(env.config)
    states, infos, _ = run_steps(step, jax.random.key(1), state, [keep] * 10, params)
    assert float(infos[-1]["losses"].mean()) < 0.5 * float(infos[0]["losses"][0])
    assert float(env.accuracy(states[-1], params, "holdout")) > 0.85
    assert float(env.accuracy(states[-1], params, "test")) > 0.85


@pytest.mark.parametrize("action_set", at.config.ACTION_SETS)
def test_keep_stop_and_reinit_actions_decode_to_what_they_name(tiny, action_set):
    _, params, _, _ = tiny
    config = at.EnvConfig(action_set=action_set, history=3)
    expected = {"keep": (False, False), "stop": (False, True), "reinit": (True, False)}
    for name, (reinit, stop) in expected.items():
        control = at.decode(getattr(at.actions, name)(config), params, config)
        assert (bool(control.reinit), bool(control.stop)) == (reinit, stop), name
        assert float(control.lr_factor) == 1.0 and float(control.batch_factor) == 1.0
        assert int(control.rewind) == 0 and not bool(control.invalid)


def test_a_cosine_schedule_trains_each_block_as_the_tuned_cosine_baseline_does():
    """`lr_schedule="cosine"` shapes the kept LR as `baselines.cosine_decay`
    does over the budget: the same losses, block by block."""
    box = {"action_set": "continuous", "max_lr_factor": 10.0, "max_steps_in_episode": 4}
    env, params = at.make_env("tiny", initial_lr=0.03, **box)
    shaped, _ = at.make_env("tiny", initial_lr=0.03, lr_schedule="cosine", **box)
    key = jax.random.key(0)
    decayed = rollout(env, params, baselines.cosine_decay(env, params, 4), key)[0]
    kept = rollout(shaped, params, baselines.keep(shaped, params), key)[0]
    constant = rollout(env, params, baselines.keep(env, params), key)[0]
    # the two LRs agree to float rounding (a ratio of cosines against a product)
    np.testing.assert_allclose(kept["losses"], decayed["losses"], rtol=1e-4)
    np.testing.assert_array_equal(kept["lr"], np.float32(0.03))  # the level, shown
    assert not np.allclose(kept["losses"][-1], constant["losses"][-1], rtol=1e-3)
