"""Peers' code, unmodified, on the env: gymnax's registry, spaces and wrappers,
a PureJaxRL-style loop, and rejax's PPO."""

import copy
import pickle

import flax.linen as nn
import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from gymnax.environments import environment, spaces
from gymnax.wrappers.purerl import FlattenObservationWrapper, LogWrapper
from helpers import doc_snippets

import autotrain_jax as at


def test_every_preset_is_a_registered_gymnax_env_with_gymnax_spaces():
    for name in at.registered_envs():
        assert at.gymnax_id(name) in gymnax.registered_envs
    env, params = gymnax.make("AutoTrain-tiny-v0", initial_lr=0.1)
    assert isinstance(env, environment.Environment)
    assert params is env.default_params and params.initial_lr == 0.1
    assert isinstance(env.action_space(params), spaces.Discrete)
    assert isinstance(env.observation_space(params), spaces.Box)
    box, _ = at.make_env("tiny", action_set="continuous")
    assert isinstance(box.action_space(), spaces.Box)
    at.register_with_gymnax()  # again (e.g. a reload): no duplicate error


def test_the_env_and_the_legacy_wrapper_survive_deepcopy_and_pickle(tiny):
    env, params, _, _ = tiny
    legacy = at.LegacyWrapper(env)
    for copied in (copy.deepcopy(legacy), pickle.loads(pickle.dumps(legacy))):
        assert copied.config == env.config and copied.num_actions == env.num_actions
        _, state = copied.reset(jax.random.key(0), params)
        obs, _, reward, done, info = copied.step(
            jax.random.key(1), state, at.actions.stop(env.config), params
        )
        assert bool(done) and bool(info["terminated"]) and np.isfinite(reward)
    with pytest.raises(AttributeError):
        legacy.no_such_attribute  # noqa: B018


def make_purejaxrl_train(num_envs=4, num_steps=8, num_updates=3):
    """The shape of PureJaxRL's `make_train`: gymnax wrappers, the 5-tuple step,
    one jitted function of the key (an actor-critic with a one-step advantage,
    to stay short)."""
    env, env_params = gymnax.make("AutoTrain-tiny-v0")
    env = at.LegacyWrapper(LogWrapper(FlattenObservationWrapper(env)))
    num_actions = env.action_space(env_params).n

    class ActorCritic(nn.Module):
        @nn.compact
        def __call__(self, x):
            hidden = nn.tanh(nn.Dense(32)(x))
            return nn.Dense(num_actions)(hidden), nn.Dense(1)(hidden)[..., 0]

    network, optimizer = ActorCritic(), optax.adam(1e-3)

    def train(rng):
        rng, init_rng, reset_rng = jax.random.split(rng, 3)
        obs_shape = env.observation_space(env_params).shape
        agent = network.init(init_rng, jnp.zeros(obs_shape))
        opt_state = optimizer.init(agent)
        reset = jax.vmap(env.reset, in_axes=(0, None))
        obsv, env_state = reset(jax.random.split(reset_rng, num_envs), env_params)

        def env_step(carry, _):
            agent, env_state, obsv, rng = carry
            rng, act_rng, step_rng = jax.random.split(rng, 3)
            logits, _ = network.apply(agent, obsv)
            action = jax.random.categorical(act_rng, logits)
            step = jax.vmap(env.step, in_axes=(0, 0, 0, None))
            keys = jax.random.split(step_rng, num_envs)
            next_obsv, env_state, reward, done, info = step(
                keys, env_state, action, env_params
            )
            transition = (obsv, action, reward, done, info["returned_episode"])
            return (agent, env_state, next_obsv, rng), transition

        def update(runner, _):
            agent, opt_state, env_state, obsv, rng = runner
            carry, traj = jax.lax.scan(
                env_step, (agent, env_state, obsv, rng), None, num_steps
            )
            _, env_state, obsv, rng = carry
            obs, action, reward, _, finished = traj

            def loss(agent):
                logits, value = network.apply(agent, obs)
                advantage = reward - value
                log_p = jax.nn.log_softmax(logits)
                log_p = jnp.take_along_axis(log_p, action[..., None], -1)[..., 0]
                actor = -(log_p * jax.lax.stop_gradient(advantage)).mean()
                return actor + 0.5 * (advantage**2).mean()

            value, grads = jax.value_and_grad(loss)(agent)
            updates, opt_state = optimizer.update(grads, opt_state)
            agent = optax.apply_updates(agent, updates)
            runner = (agent, opt_state, env_state, obsv, rng)
            return runner, (value, finished.sum())

        runner = (agent, opt_state, env_state, obsv, rng)
        _, (losses, finished) = jax.lax.scan(update, runner, None, num_updates)
        return losses, finished

    return train


def test_a_purejaxrl_style_loop_trains_on_the_env():
    losses, finished = jax.jit(make_purejaxrl_train())(jax.random.key(0))
    assert losses.shape == (3,) and np.all(np.isfinite(losses))
    assert int(finished.sum()) > 0  # tiny episodes are 8 steps: some ended


def test_the_docs_gymnax_snippet_runs_with_gymnax_wrappers():
    gymnax_snippet, _ = doc_snippets("interop.md", "Use it from gymnax")
    scope = {}
    exec(gymnax_snippet, scope)
    env, params, legacy = scope["env"], scope["params"], scope["legacy"]
    obs, state = env.reset(jax.random.key(0), params)
    assert obs.shape == (env.observation_space(params).shape[0],)  # flattened
    obs, state, reward, done, info = legacy.step(jax.random.key(1), state, 0, params)
    assert "returned_episode_returns" in info and np.isfinite(reward)  # LogWrapper's


def test_the_docs_rejax_snippet_trains_ppo_through_the_legacy_wrapper():
    _, rejax_snippet = doc_snippets("interop.md", "Use it from gymnax")
    scope = {}
    exec(rejax_snippet, scope)
    assert int(scope["train_state"].global_step) == 128
    lengths, returns = scope["lengths"], scope["returns"]
    assert lengths.shape == returns.shape == (1, 128)  # rejax's 128 eval episodes
    assert np.all(np.isfinite(returns)) and np.all((lengths >= 1) & (lengths <= 8))
