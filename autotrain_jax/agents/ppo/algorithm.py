"""PPO whose whole training (rollouts, GAE, epochs) is one `jax.lax.scan`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from gymnax.environments import spaces

from autotrain_jax import vector
from autotrain_jax.agents.ppo import networks
from autotrain_jax.agents.ppo.config import PPOConfig
from autotrain_jax.agents.ppo.losses import Batch, compute_gae, ppo_loss
from autotrain_jax.curriculum import Curriculum


class RunningStats(NamedTuple):
    """Running mean and variance of observations (Chan et al.'s parallel update)."""

    mean: jax.Array  # [H, F]
    var: jax.Array  # [H, F]
    count: jax.Array  # ()

    @classmethod
    def create(cls, shape) -> RunningStats:
        """Zero mean, unit variance, a near-zero count (the first batch rules)."""
        return cls(jnp.zeros(shape), jnp.ones(shape), jnp.float32(1e-4))

    def update(self, batch: jax.Array) -> RunningStats:
        """`batch`: [N, H, F]."""
        n = batch.shape[0]
        batch_mean, batch_var = batch.mean(0), batch.var(0)
        total = self.count + n
        delta = batch_mean - self.mean
        mean = self.mean + delta * n / total
        m2 = self.var * self.count + batch_var * n + delta**2 * self.count * n / total
        return RunningStats(mean, m2 / total, total)

    def normalize(self, obs: jax.Array) -> jax.Array:
        """`obs` standardised by the running statistics, clipped to [-10, 10]."""
        return jnp.clip((obs - self.mean) / jnp.sqrt(self.var + 1e-8), -10.0, 10.0)


class RunnerState(NamedTuple):
    """Everything a training run carries from one update to the next."""

    agent_params: Any
    opt_state: Any
    env_state: Any  # batched EnvState, leaves [B, ...]
    obs: jax.Array  # [B, H, F] raw observations
    obs_stats: RunningStats
    episode_return: jax.Array  # [B] return so far of each env's running episode
    episode_length: jax.Array  # [B] int32
    key: jax.Array
    update: jax.Array  # () int32, updates done


class Transition(NamedTuple):
    """One env step of every env in the batch, as the rollout stores it."""

    obs: jax.Array  # [B, H, F] raw
    action: jax.Array
    log_prob: jax.Array  # [B]
    value: jax.Array  # [B]
    next_value: jax.Array  # [B] V(final_observation), before any auto-reset
    reward: jax.Array  # [B]
    terminated: jax.Array  # [B]
    done: jax.Array  # [B] terminated | truncated
    episode_return: jax.Array  # [B] the finished episode's return where done
    episode_length: jax.Array  # [B]
    score: jax.Array  # [B] Thresholdout score after the step


class PPO(NamedTuple):
    """The pure functions of one PPO setup; `train = init + scan(update)`."""

    network: networks.ActorCritic
    init: Callable  # (key, env_params, rows=slice(None)) -> RunnerState
    update: Callable  # (runner, env_params) -> (runner, metrics)
    run_updates: Callable  # (runner, env_params, num) -> (runner, metrics [num])
    train: Callable  # (key, env_params) -> (runner, metrics [num_updates])
    act: Callable  # (agent_params, obs_stats, obs) -> greedy action


def make_ppo(config: PPOConfig, env, curriculum: Curriculum | None = None) -> PPO:
    """Builds PPO for `env` (gymnax API, auto-resetting `step`).

    With a `curriculum`, every update (and the initial reset) acts on
    `curriculum(env_params, update)` instead of `env_params` itself.
    """
    action_space = env.action_space()
    continuous = isinstance(action_space, spaces.Box)
    num_actions = action_space.shape[0] if continuous else action_space.n
    network = networks.ActorCritic(num_actions, continuous, config.hidden)
    total_steps = config.num_updates * config.update_epochs * config.num_minibatches
    lr = (
        optax.linear_schedule(config.lr, 0.0, total_steps)
        if config.anneal_lr
        else config.lr
    )
    optimizer = optax.chain(
        optax.clip_by_global_norm(config.max_grad_norm), optax.adam(lr, eps=1e-5)
    )
    envs = vector.batched(env, config.num_envs, config.group_envs)

    def stage(env_params, update):
        return env_params if curriculum is None else curriculum(env_params, update)

    def normalize(stats, obs):
        return stats.normalize(obs) if config.normalize_obs else obs

    def init(key, env_params, rows: slice = slice(None)) -> RunnerState:
        # `rows`: the rows of the env batch to build (a process's share; all by
        # default). Every row's reset key is the one a full init gives it.
        key_agent, key_env, key_run = jax.random.split(key, 3)
        keys = jax.random.split(key_env, config.num_envs)[rows]
        env_params = stage(env_params, 0)
        rows = range(config.num_envs)[rows]
        obs, env_state = envs.reset(keys, env_params, rows)
        agent_params = network.init(key_agent, obs[0])
        zeros = jnp.zeros(len(keys))
        return RunnerState(
            agent_params=agent_params,
            opt_state=optimizer.init(agent_params),
            env_state=env_state,
            obs=obs,
            obs_stats=RunningStats.create(obs.shape[1:]),
            episode_return=zeros,
            episode_length=zeros.astype(jnp.int32),
            key=key_run,
            update=jnp.int32(0),
        )

    def env_step(runner: RunnerState, env_params):
        key, key_action, key_env = jax.random.split(runner.key, 3)
        out = network.apply(
            runner.agent_params, normalize(runner.obs_stats, runner.obs)
        )
        action = networks.sample(key_action, out, continuous)
        keys = jax.random.split(key_env, config.num_envs)
        obs, env_state, reward, terminated, truncated, info = envs.step(
            keys, runner.env_state, action, env_params
        )
        final_obs = normalize(runner.obs_stats, info["final_observation"])
        next_value = network.apply(runner.agent_params, final_obs).value
        done = terminated | truncated
        episode_return = runner.episode_return + reward
        episode_length = runner.episode_length + 1
        transition = Transition(
            obs=runner.obs,
            action=action,
            log_prob=networks.log_prob(out, action, continuous),
            value=out.value,
            next_value=next_value,
            reward=reward,
            terminated=terminated,
            done=done,
            episode_return=episode_return,
            episode_length=episode_length,
            score=info["score"],
        )
        runner = runner._replace(
            env_state=env_state,
            obs=obs,
            episode_return=jnp.where(done, 0.0, episode_return),
            episode_length=jnp.where(done, 0, episode_length),
            key=key,
        )
        return runner, transition

    def learn(agent_params, opt_state, batch: Batch, key):
        def minibatch_step(carry, minibatch):
            params, opt_state = carry
            grads, losses = jax.grad(
                lambda p: ppo_loss(network, p, minibatch, config), has_aux=True
            )(params)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), losses

        def epoch(carry, key):
            flat = jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), batch)
            order = jax.random.permutation(key, flat.value.shape[0])
            minibatches = jax.tree.map(
                lambda x: x[order].reshape(config.num_minibatches, -1, *x.shape[1:]),
                flat,
            )
            return jax.lax.scan(minibatch_step, carry, minibatches)

        keys = jax.random.split(key, config.update_epochs)
        (agent_params, opt_state), losses = jax.lax.scan(
            epoch, (agent_params, opt_state), keys
        )
        return agent_params, opt_state, jax.tree.map(jnp.mean, losses)

    def update(runner: RunnerState, env_params):
        env_params = stage(env_params, runner.update)
        runner, traj = jax.lax.scan(
            lambda r, _: env_step(r, env_params), runner, None, config.num_steps
        )
        advantage, target = compute_gae(
            traj.reward,
            traj.value,
            traj.next_value,
            traj.terminated,
            traj.done,
            config.gamma,
            config.gae_lambda,
        )
        batch = Batch(
            obs=normalize(runner.obs_stats, traj.obs),
            action=traj.action,
            log_prob=traj.log_prob,
            value=traj.value,
            advantage=advantage,
            target=target,
        )
        key, key_learn = jax.random.split(runner.key)
        agent_params, opt_state, losses = learn(
            runner.agent_params, runner.opt_state, batch, key_learn
        )
        obs_stats = runner.obs_stats.update(traj.obs.reshape(-1, *traj.obs.shape[2:]))
        runner = runner._replace(
            agent_params=agent_params,
            opt_state=opt_state,
            obs_stats=obs_stats,
            key=key,
            update=runner.update + 1,
        )
        return runner, {**losses, **_episode_metrics(traj, num_actions, continuous)}

    def run_updates(runner, env_params, num: int):
        return jax.lax.scan(lambda r, _: update(r, env_params), runner, None, num)

    def train(key, env_params):
        return run_updates(init(key, env_params), env_params, config.num_updates)

    def act(agent_params, obs_stats, obs):
        out = network.apply(agent_params, normalize(obs_stats, obs))
        return networks.greedy(out, continuous)

    return PPO(network, init, update, run_updates, train, act)


def make_train(
    config: PPOConfig, env, curriculum: Curriculum | None = None
) -> Callable:
    """`train(key, env_params) -> (RunnerState, metrics)`, jittable and vmappable.

    The env parameters (and so the data) are an argument, not a closure, so that
    jit does not bake the dataset into the program as a constant.
    """
    return make_ppo(config, env, curriculum).train


def _episode_metrics(traj: Transition, num_actions: int, continuous: bool):
    """Per-update aggregates (bounded memory: nothing per env step is kept)."""
    done = traj.done.astype(jnp.float32)
    episodes = done.sum()

    def mean_over_episodes(x):
        return jnp.where(
            episodes > 0, (x * done).sum() / jnp.maximum(episodes, 1), jnp.nan
        )

    if continuous:
        actions = traj.action.reshape(-1, num_actions).mean(0)
    else:
        actions = jnp.bincount(traj.action.ravel(), length=num_actions)
    return {
        "episodes": episodes,
        "episode_return": mean_over_episodes(traj.episode_return),
        "episode_length": mean_over_episodes(traj.episode_length),
        "final_score": mean_over_episodes(traj.score),
        "reward": traj.reward.mean(),
        "actions": actions,
    }
