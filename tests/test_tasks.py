"""Task distributions (settings drawn per episode), scale-free observations, and
the warm start's cost."""

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import autotrain_jax as at
from autotrain_jax import actions
from autotrain_jax.tasks import Task, labels, sample_train_indices, train_indices


def _batch_reset(env, params, num=64):
    chex.clear_trace_counter()  # counts per code location, across calls

    @chex.assert_max_traces(n=1)
    def reset(key, params):
        return env.reset(key, params)

    batched = jax.jit(jax.vmap(reset, in_axes=(0, None)))
    obs, state = batched(jax.random.split(jax.random.key(0), num), params)
    batched(jax.random.split(jax.random.key(1), num), params)  # no retrace
    return obs, state


def test_initial_lr_range_is_drawn_per_env_log_uniformly():
    env, params = at.make_env("tiny", initial_lr=(1e-3, 1e-1))
    _, state = _batch_reset(env, params)
    lr = np.asarray(state.lr)
    np.testing.assert_array_equal(lr, state.task.initial_lr)
    assert len(np.unique(lr)) >= 32 and lr.min() >= 1e-3 and lr.max() <= 1e-1
    below_1e2 = np.mean(lr < 1e-2)  # log-uniform: half of the mass below 1e-2
    assert 0.3 < below_1e2 < 0.7


def test_budget_range_ends_each_episode_at_its_own_budget():
    env, params = at.make_env("tiny", max_steps_in_episode=(2, 6))
    _, state = _batch_reset(env, params, num=32)
    budget = np.asarray(state.task.budget)
    assert set(budget) == {2, 3, 4, 5, 6}
    step = jax.jit(jax.vmap(env.step_env, in_axes=(0, 0, None, None)))
    ended_at = np.zeros(32, int)
    for t in range(1, 7):
        keys = jax.random.split(jax.random.key(t), 32)
        _, state, _, terminated, info = step(
            keys, state, actions.keep(env.config), params
        )
        np.testing.assert_array_equal(info["budget"], budget)
        ended_at[np.asarray(terminated) & (ended_at == 0)] = t
    np.testing.assert_array_equal(ended_at, budget)


def test_train_size_range_trains_each_episode_on_a_fresh_subset():
    env, params = at.make_env("tiny", train_size=(50, 500))
    assert params.data.train_y.shape[0] == 500  # the pool: the largest size
    assert params.train_subset_size == (50, 500)
    _, state = _batch_reset(env, params)
    size = np.asarray(state.task.train_subset_size)
    assert len(np.unique(size)) >= 32 and size.min() >= 50 and size.max() <= 500
    assert len(np.unique(state.task.train_offset)) >= 32


def test_a_one_example_subset_is_all_the_training_accuracy_sees():
    env, params = at.make_env("tiny", train_size=(1, 1))
    _, state = _batch_reset(env, params, num=16)
    step = jax.jit(jax.vmap(env.step_env, in_axes=(0, 0, None, None)))
    keys = jax.random.split(jax.random.key(3), 16)
    _, state, *_ = step(keys, state, actions.keep(env.config), params)
    # one example repeated: the sampled training accuracy is 0 or 1, and after
    # 10 steps on that one example it is 1
    np.testing.assert_array_equal(state.train_accuracy, 1.0)


def test_subset_indices_wrap_around_the_split(tiny):
    _, params, _, _ = tiny
    pool = params.data.train_y.shape[0]
    task = Task(
        initial_lr=jnp.float32(0.01),
        budget=jnp.int32(8),
        train_subset_size=jnp.int32(4),
        train_offset=jnp.int32(pool - 2),
        dataset=jnp.int32(0),
    )
    expected = [pool - 2, pool - 1, 0, 1]
    np.testing.assert_array_equal(train_indices(task, jnp.arange(4), pool), expected)
    drawn = sample_train_indices(jax.random.key(0), task, 200, params.data)
    assert set(np.asarray(drawn)) == set(expected)


# Two XLA programs that compute the same math may fuse it differently, and so
# round differently in the last bit (float32: 1.2e-7 relative) on another CPU
# kind; over 30-40 inner SGD steps of the tiny MLP that grows by a few orders of
# magnitude at most. 1e-4 leaves that room, while any real difference (another
# LR, minibatch or label) moves these values by more than 1e-2. Measured here
# (AVX-512): the programs agree exactly.
ACROSS_PROGRAMS = {"rtol": 1e-4, "atol": 1e-5}


def test_degenerate_ranges_reproduce_fixed_settings(tiny):
    env, params, _, _ = tiny
    ranged = params.replace(initial_lr=(0.01, 0.01), max_steps_in_episode=(8, 8))

    def run(params):
        obs, state = env.reset(jax.random.key(0), params)
        out = [(state.task.initial_lr, state.task.budget)]
        for t in range(3):
            action = jnp.int32(t % 3 + 1)
            obs, state, reward, *_ = env.step(jax.random.key(t), state, action, params)
            out.append((obs, reward, state.weights))
        return out

    fixed, sampled = run(params), run(ranged)
    assert fixed[0] == sampled[0]  # the same task, exactly: (0.01, 8)
    chex.assert_trees_all_close(fixed[1:], sampled[1:], **ACROSS_PROGRAMS)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"initial_lr": (0.1, 0.01)}, "initial_lr"),
        ({"initial_lr": (1e-3, 10.0)}, r"initial_lr must lie in \[lr_min, lr_max\]"),
        ({"max_steps_in_episode": (0, 4)}, "max_steps_in_episode"),
        ({"max_steps_in_episode": (2.5, 4)}, "max_steps_in_episode must be integers"),
        ({"train_size": (0, 100)}, "train_subset_size"),
        ({"label_noise": 1.5}, r"label_noise must lie in \[0, 1\]"),
        ({"label_noise": (0.8, 0.2)}, "label_noise must be a value or a"),
    ],
)
def test_bad_ranges_fail_before_any_data_is_read(monkeypatch, overrides, message):
    monkeypatch.setattr(at.presets, "load_dataset", _no_data)
    with pytest.raises(ValueError, match=message):
        at.make_env("tiny", **overrides)


def test_label_noise_replaces_that_share_of_labels_for_the_whole_episode():
    env, params = at.make_env("tiny", label_noise=(0.2, 0.8))
    _, state = _batch_reset(env, params, num=8)
    noise = np.asarray(state.task.label_noise)
    assert len(np.unique(noise)) == 8 and noise.min() >= 0.2 and noise.max() <= 0.8
    data, num_classes = params.data, params.data.num_classes
    for split in ("train", "holdout"):
        clean = np.asarray(getattr(data, f"{split}_y"))
        position = jnp.arange(len(clean))
        for env_index in range(8):
            task = jax.tree.map(lambda leaf, i=env_index: leaf[i], state.task)
            noisy = np.asarray(labels(task, data, split, position))
            # again, in another order: each example keeps its label
            np.testing.assert_array_equal(
                labels(task, data, split, position[::-1]), noisy[::-1]
            )
            assert noisy.min() >= 0 and noisy.max() < num_classes
            # a replacement keeps the label with probability 1 / num_classes;
            # 5 binomial standard deviations
            expected = noise[env_index] * (1 - 1 / num_classes)
            tolerance = 5 * np.sqrt(expected * (1 - expected) / len(clean))
            assert abs(np.mean(noisy != clean) - expected) < tolerance


def test_label_noise_lowers_accuracy_and_zero_noise_changes_nothing():
    def run(label_noise):
        env, params = at.make_env("tiny", label_noise=label_noise)
        _, state = env.reset(jax.random.key(0), params)
        step = jax.jit(env.step_env)
        for t in range(4):
            _, state, *_ = step(
                jax.random.key(t), state, actions.keep(env.config), params
            )
        return state, env.accuracy(state, params, "holdout")

    clean, clean_accuracy = run(None)
    zero, zero_accuracy = run(0.0)
    data = at.make_env("tiny")[1].data
    for split in ("train", "holdout", "test"):  # zero noise: the labels as they are
        y = getattr(data, f"{split}_y")
        idx = jnp.arange(len(y))
        np.testing.assert_array_equal(labels(zero.task, data, split, idx), y)
    # two XLA programs (with and without the hash): equal up to their fusions'
    # rounding, which may flip at most a prediction or two
    chex.assert_trees_all_close(clean.weights, zero.weights, **ACROSS_PROGRAMS)
    assert (
        abs(float(zero_accuracy) - float(clean_accuracy)) <= 2 / 256 + 1e-6
    )  # holdout: 256
    assert clean_accuracy > 0.5
    _, random_accuracy = run(1.0)  # every label drawn at random: chance level
    assert abs(float(random_accuracy) - 0.1) < 0.05


def test_scale_free_observation_and_task_features():
    env, params = at.make_env(
        "tiny",
        observation="scale_free",
        observe_task=True,
        initial_lr=(1e-3, 1e-1),
        max_steps_in_episode=(4, 12),
        train_size=(64, 512),
    )
    k = env.config.num_losses
    assert env.config.record_size == k + 6
    _, state = env.reset(jax.random.key(0), params)
    step = jax.jit(env.step_env)
    keep = actions.keep(env.config)
    obs, state, *_, info = step(jax.random.key(1), state, keep, params)
    first_loss = float(info["losses"][0])
    obs, state, *_, info = step(jax.random.key(2), state, keep, params)
    record = np.asarray(obs[-1])
    relative = np.log(np.asarray(info["losses"], np.float64) / first_loss)
    # float32 log of a ratio vs float64: a few ulp
    np.testing.assert_allclose(record[:k], relative, rtol=1e-5, atol=1e-6)
    lr, budget, size = (float(info[f]) for f in ("lr", "budget", "train_subset_size"))
    np.testing.assert_allclose(record[k], np.log10(lr), rtol=1e-6)
    assert record[k + 1] == float(info["score"])
    assert record[k + 3] == pytest.approx(2 / budget)
    np.testing.assert_allclose(record[k + 4 :], np.log10([budget, size]), rtol=1e-6)


def test_the_update_feature_is_the_blocks_relative_weight_change():
    """`observe_update`: log10 |w_after - w_before| / |w_before| of the block,
    computed here in float64 from the weights."""
    env, params = at.make_env(
        "tiny", observation="scale_free", observe_update=True, action_set="reduced"
    )
    assert env.config.record_size == env.config.num_losses + 5
    _, state = env.reset(jax.random.key(0), params)
    step = jax.jit(env.step_env)
    obs, after, *_ = step(jax.random.key(1), state, actions.keep(env.config), params)
    leaves = [
        (np.asarray(a, np.float64), np.asarray(b, np.float64))
        for a, b in zip(
            jax.tree.leaves(state.weights), jax.tree.leaves(after.weights), strict=True
        )
    ]
    moved = np.sqrt(sum(np.sum((b - a) ** 2) for a, b in leaves))
    size = np.sqrt(sum(np.sum(a**2) for a, _ in leaves))
    np.testing.assert_allclose(obs[-1, -1], np.log10(moved / size), rtol=1e-4)


def test_the_optimizer_feature_tells_adam_like_from_sgd_like_per_episode():
    """`observe_optimizer`: 1 where the episode drew an Adam-like optimizer
    (`config.ADAPTIVE`), 0 for SGD's family, in every record."""
    names = ("sgd", "adam", "momentum", "rmsprop")
    env, params = at.make_env(
        "tiny", observation="scale_free", observe_optimizer=True, optimizer=names
    )
    assert env.config.record_size == env.config.num_losses + 5
    keys = jax.random.split(jax.random.key(0), 16)
    _, state = jax.vmap(env.reset, in_axes=(0, None))(keys, params)
    step = jax.jit(jax.vmap(env.step_env, in_axes=(0, 0, None, None)))
    obs, *_ = step(keys, state, actions.keep(env.config), params)
    drawn = np.asarray(state.task.optimizer)
    assert set(drawn) == {0, 1, 2, 3}
    np.testing.assert_array_equal(obs[:, -1, -1], np.isin(drawn, [1, 3]))
    single, params = at.make_env("tiny", observe_optimizer=True, optimizer="adamw")
    _, state = single.reset(jax.random.key(0), params)
    obs, *_ = single.step_env(keys[0], state, actions.keep(single.config), params)
    assert obs[-1, -1] == 1.0


def _count_inner_training(env):
    """Wraps `env.trainee.train` to count its runs (a host callback per run)."""
    calls = []
    inner_train = env.trainee.train

    def counted(*args):
        jax.debug.callback(lambda: calls.append(1))
        return inner_train(*args)

    env.trainee.train = counted
    return calls


def test_warm_start_trains_only_for_the_envs_that_reset(tiny):
    """The warm-up trains only on a step where some env resets (its cost, which
    follows, is measured by `benchmarks/warm_start.py`)."""
    _, params, _, _ = tiny
    counts = {}
    for warm_start in (False, True):
        config = dataclasses.replace(tiny[0].config, warm_start=warm_start)
        env = at.AutoTrainEnv(config, params)
        _, state = jax.vmap(env.reset, in_axes=(0, None))(
            jax.random.split(jax.random.key(0), 4), params
        )
        calls = _count_inner_training(env)
        step = jax.jit(jax.vmap(env.step, in_axes=(0, 0, 0, None)))
        keep = jnp.full(4, actions.keep(env.config))
        keys = jax.random.split(jax.random.key(1), 4)
        jax.block_until_ready(step(keys, state, keep, params))
        quiet = len(calls)  # no episode ends: the step's own training only
        stop_one = keep.at[0].set(actions.stop(config))
        jax.block_until_ready(step(keys, state, stop_one, params))
        counts[warm_start] = (quiet, len(calls) - quiet)
    assert counts[True][0] == counts[False][0]  # no warm-up unless a reset
    assert counts[True][1] > counts[False][1]  # a reset runs the warm-up


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_sampled_widths_make_each_mlp_exactly_that_narrow(optimizer):
    env, params = at.make_env("tiny", hidden=((4, 32),), optimizer=optimizer)
    assert env.config.hidden == (32,) and params.hidden_widths == ((4, 32),)
    _, state = _batch_reset(env, params)
    widths = np.asarray(state.task.widths)[:, 0]
    assert len(np.unique(widths)) >= 20 and widths.min() >= 4 and widths.max() <= 32
    step = jax.jit(jax.vmap(env.step_env, in_axes=(0, 0, None, None)))
    for t in range(3):
        keys = jax.random.split(jax.random.key(t), 64)
        _, state, *_ = step(keys, state, actions.keep(env.config), params)
    images = params.data.normalize(params.data.train_x[:8])
    x = np.asarray(images).reshape(8, -1)
    weights = jax.tree.map(np.asarray, state.weights)
    for i, width in enumerate(widths[:8]):
        layer0, head = weights["Dense_0"], weights["Dense_1"]
        for leaf in (layer0["kernel"][i][:, width:], layer0["bias"][i][width:]):
            np.testing.assert_array_equal(leaf, 0.0)  # training never moved them
        np.testing.assert_array_equal(head["kernel"][i][width:], 0.0)
        hidden = np.maximum(
            x @ layer0["kernel"][i][:, :width] + layer0["bias"][i][:width], 0
        )
        narrow = hidden @ head["kernel"][i][:width] + head["bias"][i]
        one = jax.tree.map(lambda w, i=i: w[i], weights)
        full = env.trainee.model.apply({"params": one}, images)
        np.testing.assert_allclose(full, narrow, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"hidden_widths": ((4, 64),)}, r"must not exceed hidden\[0\]=32"),
        ({"hidden_widths": ((4, 8), 8)}, "one entry per hidden layer"),
        ({"hidden_widths": ((0, 8),)}, r"hidden_widths\[0\] must be >= 1"),
    ],
)
def test_bad_widths_fail_before_any_data_is_read(monkeypatch, overrides, message):
    monkeypatch.setattr(at.presets, "load_dataset", _no_data)
    with pytest.raises(ValueError, match=message):
        at.make_env("tiny", **overrides)


def _no_data(*args, **kwargs):
    raise AssertionError("data was read before validation")


def test_a_dataset_is_drawn_per_episode_and_only_it_is_read(tiny):
    _, params, _, _ = tiny
    mnist = params.data
    threes = mnist.replace(  # a second dataset: inverted images, every label 3
        train_x=255 - mnist.train_x,
        holdout_x=255 - mnist.holdout_x,
        test_x=255 - mnist.test_x[:500],
        train_y=jnp.full_like(mnist.train_y, 3),
        holdout_y=jnp.full_like(mnist.holdout_y, 3),
        test_y=jnp.full((500,), 3, jnp.int32),
        mean=255 - mnist.mean,
    )
    data = at.data.combine([mnist, threes])
    np.testing.assert_array_equal(
        data.segments[1], [[512, 512], [256, 256], [len(mnist.test_y), 500]]
    )
    env, params = at.make_env("tiny", data=data, train_size=(64, 512))
    _, state = _batch_reset(env, params, num=32)
    dataset = np.asarray(state.task.dataset)
    assert 8 <= dataset.sum() <= 24  # both drawn, about half each
    step = jax.jit(jax.vmap(env.step_env, in_axes=(0, 0, None, None)))
    for t in range(4):
        keys = jax.random.split(jax.random.key(t), 32)
        _, state, *_ = step(keys, state, actions.keep(env.config), params)
    test = np.asarray(jax.vmap(lambda s: env.accuracy(s, params, "test"))(state))
    holdout = np.asarray(state.holdout_accuracy)
    # the label-3 episodes saw only label 3: they answer 3 everywhere
    np.testing.assert_array_equal(test[dataset == 1], 1.0)
    np.testing.assert_array_equal(holdout[dataset == 1], 1.0)
    assert np.all((test[dataset == 0] > 0.5) & (test[dataset == 0] < 0.99))


def test_only_datasets_of_one_image_shape_combine(tiny):
    _, params, _, _ = tiny
    small = params.data.replace(train_x=params.data.train_x[:, :14])
    with pytest.raises(ValueError, match="share image shape"):
        at.data.combine([params.data, small])
