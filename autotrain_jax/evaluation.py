"""Evaluating a controller: the training it steers, scored on the test split."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from autotrain_jax.baselines import pbt_rollout
from autotrain_jax.env import AutoTrainEnv, EnvState
from autotrain_jax.params import EnvParams
from autotrain_jax.rollout import Policy, as_policy, rollout
from autotrain_jax.tasks import max_budget


def final_metrics(env: AutoTrainEnv, params: EnvParams, state: EnvState) -> dict:
    """Whole-split accuracies and compute of the weights an episode ended with."""
    return {
        "test_accuracy": env.accuracy(state, params, "test"),
        "holdout_accuracy": env.accuracy(state, params, "holdout"),
        "train_accuracy": env.accuracy(state, params, "train"),
        "inner_steps": state.inner_steps,
        "env_steps": state.time,
    }


def evaluate(
    env: AutoTrainEnv, params: EnvParams, policy, keys: jax.Array
) -> dict[str, np.ndarray]:
    """One episode per key (vmapped, one jit); per-seed results as arrays [seeds].

    `policy` is a `rollout.Policy` or a stateless `fn(key, obs) -> action`.
    Results: test_accuracy (the split `step` never reads), holdout_accuracy and
    train_accuracy (whole splits), inner_steps, env_steps, and wall_time_s (the
    batch's wall time, compile included, divided among the seeds).
    """
    return evaluate_many(env, params, {"policy": policy}, keys)["policy"]


def evaluate_many(
    env: AutoTrainEnv, params: EnvParams, policies: Mapping[str, Any], keys: jax.Array
) -> dict[str, dict[str, np.ndarray]]:
    """`evaluate` for several policies at once: one jit, one vmapped batch of
    len(policies) x len(keys) episodes, compiled once whatever the number of
    policies. Every policy sees the same keys (the same initial weights and
    minibatches per seed), so differences between rows are paired.

    All policies must act in `env`'s action set (see `baselines.in_continuous`).
    wall_time_s is the whole batch's wall time divided among all its episodes.
    """
    names = list(policies)
    if not names:
        raise ValueError("policies must hold at least one {name: policy}, got {}")
    combined = _switch([as_policy(policies[name]) for name in names])
    horizon = max_budget(params)

    def one(index, key, params):  # params (with the data): an argument, not a constant
        _, state = rollout(env, params, combined(index), key, horizon)
        return final_metrics(env, params, state)

    index = jnp.repeat(jnp.arange(len(names)), len(keys))
    tiled = jnp.tile(keys, len(names))
    start = time.perf_counter()
    batched = jax.jit(jax.vmap(one, in_axes=(0, 0, None)))(index, tiled, params)
    batched = jax.device_get(batched)
    wall = np.full(len(keys), (time.perf_counter() - start) / len(index))
    rows = {
        k: v.reshape(len(names), len(keys), *v.shape[1:]) for k, v in batched.items()
    }
    return {
        name: {**{k: v[i] for k, v in rows.items()}, "wall_time_s": wall}
        for i, name in enumerate(names)
    }


def evaluate_lrs(
    env: AutoTrainEnv,
    params: EnvParams,
    policies: Mapping[str, Any],
    keys: jax.Array,
    initial_lrs,
    batch_size: int = 256,
) -> dict[float, dict[str, dict[str, np.ndarray]]]:
    """`evaluate_many` from each of `initial_lrs`, all in one program:
    {initial LR: {policy: per-seed results}}. Every (policy, initial LR) pair
    sees the same keys, so all rows are paired.

    The policies must not depend on `params.initial_lr` (which is traced
    here): keep the LR (`baselines.keep`), relative schedules
    (`baselines.cosine_from_start`), score-driven ones and learned controllers
    qualify. Episodes run `batch_size` at a time (`lax.map`), which bounds
    memory whatever the grid's size.
    """
    names = list(policies)
    combined = _switch([as_policy(policies[name]) for name in names])
    horizon = max_budget(params)
    lrs = jnp.asarray(initial_lrs, jnp.float32)

    def one(inputs, params):
        index, lr, key = inputs
        params = params.replace(initial_lr=lr)
        _, state = rollout(env, params, combined(index), key, horizon)
        return final_metrics(env, params, state)

    index, lr, seed = (
        a.ravel()
        for a in jnp.meshgrid(
            jnp.arange(len(names)),
            jnp.arange(len(lrs)),
            jnp.arange(len(keys)),
            indexing="ij",
        )
    )
    inputs = (index, lrs[lr], keys[seed])

    @jax.jit
    def run(inputs, params):
        return jax.lax.map(lambda x: one(x, params), inputs, batch_size=batch_size)

    results = jax.device_get(run(inputs, params))
    shape = (len(names), len(lrs), len(keys))
    rows = {k: v.reshape(*shape, *v.shape[1:]) for k, v in results.items()}
    return {
        float(initial_lrs[j]): {
            name: {k: v[i, j] for k, v in rows.items()} for i, name in enumerate(names)
        }
        for j in range(len(lrs))
    }


def evaluate_pbt(
    env: AutoTrainEnv,
    params: EnvParams,
    keys: jax.Array,
    population: int = 8,
    initial_lrs: tuple[float, ...] | None = None,
) -> dict[str, np.ndarray]:
    """`evaluate` for Population Based Training (`pbt_rollout`; `initial_lrs`:
    one starting LR per member): per seed, the final metrics of the
    best-scoring member, with inner_steps summed over the whole population
    (its compute)."""
    horizon = max_budget(params)
    population = population if initial_lrs is None else len(initial_lrs)

    def one(key, params):
        states = pbt_rollout(
            env, params, key, population, num_steps=horizon, initial_lrs=initial_lrs
        )
        best = jax.tree.map(lambda x: x[jnp.argmax(states.score)], states)
        metrics = final_metrics(env, params, best)
        metrics["inner_steps"] = states.inner_steps.sum()
        return metrics

    start = time.perf_counter()
    results = jax.device_get(jax.jit(jax.vmap(one, in_axes=(0, None)))(keys, params))
    results["wall_time_s"] = np.full(
        len(keys), (time.perf_counter() - start) / len(keys)
    )
    return results


def _switch(policies: list[Policy]) -> Callable[[jax.Array], Policy]:
    """`index -> Policy` acting as `policies[index]` (a traced index is fine)."""
    if len(policies) == 1:
        return lambda index: policies[0]

    def select(index):
        def branch(i):
            def act(key, obs, states):
                action, state = policies[i].act(key, obs, states[i])
                return action, (*states[:i], state, *states[i + 1 :])

            return act

        def act(key, obs, states):
            branches = [branch(i) for i in range(len(policies))]
            return jax.lax.switch(index, branches, key, obs, states)

        return Policy(lambda: tuple(p.init() for p in policies), act)

    return select


def summarize(values) -> dict[str, float]:
    """Mean and 95% confidence half-width (Student t) over seeds."""
    values = np.asarray(values, np.float64)
    n = len(values)
    if n < 2:
        return {"mean": float(values.mean()), "ci95": float("nan"), "n": n}
    t = stats.t.ppf(0.975, n - 1)  # two-sided 95%
    half = t * values.std(ddof=1) / np.sqrt(n)
    return {"mean": float(values.mean()), "ci95": float(half), "n": n}
