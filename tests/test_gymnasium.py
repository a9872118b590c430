"""The Gymnasium adapters: Gymnasium's own env checker, seeding, the vector env's
auto-reset convention, and Stable-Baselines3 where it is installed."""

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from helpers import doc_snippets

import autotrain_jax as at
from autotrain_jax.gymnasium import (
    AutoTrainGymnasiumEnv,
    AutoTrainVectorEnv,
    gymnasium_id,
)


@pytest.fixture(scope="module")
def single():
    return AutoTrainGymnasiumEnv("tiny")


def test_the_docs_snippet_runs():
    (snippet,) = doc_snippets("interop.md", "Use it from Gymnasium")
    scope = {}
    exec(snippet, scope)
    assert scope["obs"].shape == scope["env"].observation_space.shape
    assert scope["vec"].num_envs == 64
    scope["vec"].close()


def test_every_preset_is_registered_with_gymnasium():
    for name in at.registered_envs():
        assert gymnasium_id(name) in gymnasium.registry
    env = gymnasium.make("autotrain_jax/tiny-v0", initial_lr=0.1)
    assert env.unwrapped.params.initial_lr == 0.1


def test_the_single_env_passes_gymnasiums_env_checker(single):
    check_env(single, skip_render_check=True)


def test_reset_seed_makes_episodes_reproducible(single):
    def episode(seed):
        obs, _ = single.reset(seed=seed)
        out = [obs]
        for action in (0, 4, 7, single.env.config.history):
            obs, reward, terminated, truncated, info = single.step(action)
            out += [obs, reward, info["lr"]]
        return out

    first, again, other = episode(3), episode(3), episode(4)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(first, other, strict=True))
    single.reset(seed=0)
    assert single.action_space.contains(int(at.actions.stop(single.env.config)))
    *_, terminated, _, info = single.step(int(at.actions.stop(single.env.config)))
    assert terminated and info["stop"]


def test_the_vector_env_auto_resets_in_the_same_step():
    vec = gymnasium.make_vec("autotrain_jax/tiny-v0", num_envs=4)
    assert isinstance(vec.unwrapped, AutoTrainVectorEnv)
    assert vec.metadata["autoreset_mode"] == gymnasium.vector.AutoresetMode.SAME_STEP
    obs, _ = vec.reset(seed=0)
    assert obs.shape == (4, *vec.single_observation_space.shape)
    keep = int(at.actions.keep(vec.unwrapped.env.config))
    stop = int(at.actions.stop(vec.unwrapped.env.config))
    obs, reward, terminated, truncated, info = vec.step(np.full(4, keep))
    assert not terminated.any() and "final_obs" not in info
    assert info["_lr"].all() and reward.shape == (4,)

    actions = np.array([stop, keep, stop, keep])
    obs, reward, terminated, truncated, info = vec.step(actions)
    ended = np.array([True, False, True, False])
    np.testing.assert_array_equal(terminated, ended)
    assert not truncated.any()
    np.testing.assert_array_equal(info["_final_obs"], ended)
    np.testing.assert_array_equal(info["_final_info"], ended)
    assert info["final_obs"][1] is None and np.any(info["final_obs"][0])
    assert not np.any(obs[0]) and np.any(obs[1])  # env 0 already restarted
    assert info["final_info"]["stop"][0] and not info["_lr"][0]
    assert vec.action_space.contains(actions)
    vec.close()


def test_stable_baselines3_ppo_trains_on_the_single_env():
    sb3 = pytest.importorskip(
        "stable_baselines3",
        reason="stable-baselines3 needs torch, too large for CI: "
        "pip install -e '.[sb3]' to run this test",
    )
    env = AutoTrainGymnasiumEnv("tiny")
    model = sb3.PPO("MlpPolicy", env, n_steps=64, batch_size=32, n_epochs=1, seed=0)
    model.learn(total_timesteps=128)
    action, _ = model.predict(env.reset(seed=1)[0], deterministic=True)
    assert env.action_space.contains(int(action))


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (1.5, "integer id"),
        (999, r"action must be in \[0, "),
        (-1, r"action must be in \[0, "),
        (np.array([0, 1]), "integer id"),
    ],
)
def test_the_single_env_rejects_invalid_actions(single, action, message):
    single.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        single.step(action)


def test_the_vector_env_rejects_invalid_actions():
    box = AutoTrainVectorEnv("tiny", num_envs=2, action_set="continuous")
    box.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions\[1\]: action must be finite"):
        box.step(np.array([[0, 0, 0, 0], [np.nan, 0, 0, 0]], np.float32))
    with pytest.raises(ValueError, match="one action per env"):
        box.step(np.zeros((3, 4), np.float32))
    ids = AutoTrainVectorEnv("tiny", num_envs=2)
    ids.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions\[0\]: action must be in \[0, "):
        ids.step(np.array([999, 0]))
    box.close(), ids.close()
