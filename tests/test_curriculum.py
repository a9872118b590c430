"""The curriculum: task ranges widen over PPO updates, inside the jitted loop."""

import jax
import numpy as np
import pytest

import autotrain_jax as at
from autotrain_jax.agents.ppo import PPOConfig, make_train
from autotrain_jax.curriculum import Curriculum


def test_settings_move_from_start_to_the_params_values():
    _, params = at.make_env(
        "tiny",
        initial_lr=(1e-4, 1.0),
        max_steps_in_episode=(4, 20),
        train_size=(64, 512),
    )
    curriculum = Curriculum(
        {"initial_lr": 1e-2, "max_steps_in_episode": (4, 4), "train_subset_size": 64},
        updates=10,
    )
    at_update = {u: curriculum(params, u) for u in (0, 5, 10, 30)}
    np.testing.assert_allclose(at_update[0].initial_lr, [1e-2, 1e-2], rtol=1e-6)
    np.testing.assert_allclose(at_update[5].initial_lr, [1e-3, 1e-1], rtol=1e-5)
    for u in (10, 30):  # reached, and stays
        np.testing.assert_allclose(at_update[u].initial_lr, [1e-4, 1.0], rtol=1e-5)
        np.testing.assert_array_equal(at_update[u].max_steps_in_episode, [4, 20])
        np.testing.assert_array_equal(at_update[u].train_subset_size, [64, 512])
    np.testing.assert_array_equal(at_update[5].max_steps_in_episode, [4, 12])
    np.testing.assert_array_equal(at_update[5].train_subset_size, [64, 181])


@pytest.mark.parametrize(
    ("start", "updates", "message"),
    [
        ({"lr_max": 1.0}, 10, "curriculum settings must be among"),
        ({"initial_lr": (1e-2, 1e-3)}, 10, "low <= high"),
        ({"initial_lr": 1e-2}, 0, "updates must be an integer >= 1"),
    ],
)
def test_bad_curricula_are_refused(start, updates, message):
    with pytest.raises(ValueError, match=message):
        Curriculum(start, updates)


def test_ppo_follows_the_curriculum_inside_its_scan():
    # one-step episodes: every env draws a new task at every step, so the last
    # step's draws come from the range of the second (last) update
    env, params = at.make_env("tiny", initial_lr=(1e-4, 1.0), max_steps_in_episode=1)
    config = PPOConfig(num_envs=16, num_steps=2, num_updates=2, num_minibatches=2)
    lrs = {}
    for updates in (1, 1000):  # reached after one update, or barely begun
        curriculum = Curriculum({"initial_lr": 1e-2}, updates)
        train = jax.jit(make_train(config, env, curriculum))
        runner, _ = train(jax.random.key(0), params)
        lrs[updates] = np.asarray(runner.env_state.task.initial_lr)
    # after 2 updates of 1000, every episode starts within a few % of 1e-2
    np.testing.assert_allclose(lrs[1000], 1e-2, rtol=0.05)
    assert lrs[1].max() / lrs[1].min() > 100  # drawn over the full 1e-4..1
