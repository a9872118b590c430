"""Hand-made controllers to compare a learned one against, as small pure policies.

Each is a `rollout.Policy`, run by the same episode loop as a learned controller.
All baselines act through the `continuous` action set (any LR factor within
[1 / max_lr_factor, max_lr_factor], rewind, stop), on the same budget and data.
Population Based Training steers a whole vmapped population: `pbt_rollout`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from autotrain_jax import actions
from autotrain_jax.env import AutoTrainEnv, EnvState
from autotrain_jax.observation import newest_lr_and_score
from autotrain_jax.params import EnvParams
from autotrain_jax.rollout import Policy, as_policy, stateless
from autotrain_jax.tasks import is_range, max_budget


def in_continuous(policy, env: AutoTrainEnv, params: EnvParams) -> Policy:
    """`policy`, which acts in `env`'s action set, re-expressed as continuous
    actions (same LR factors, rewinds, re-inits and stops), so that it can share
    one batched evaluation with the continuous baselines.

    Raises:
      ValueError: if `params.max_lr_factor` cannot express the set's LR factors.
    """
    policy = as_policy(policy)
    if env.config.action_set == "continuous":
        return policy
    if env.config.action_set == "self_play":
        raise ValueError(
            "action_set 'self_play' cannot be re-expressed as continuous actions "
            "(the continuous set has no batch size); evaluate it on its own"
        )
    factors = (
        params.full_lr_factors
        if env.config.action_set == "full"
        else params.reduced_lr_factors
    )
    widest = max(max(factors), 1.0 / min(factors))
    if params.max_lr_factor < widest:
        raise ValueError(
            f"max_lr_factor must be >= {widest:g} to express the "
            f"{env.config.action_set!r} set's LR factors {tuple(factors)}, "
            f"got {params.max_lr_factor}"
        )

    def act(key, obs, state):
        action, state = policy.act(key, obs, state)
        control = actions.decode(action, params, env.config)
        return actions.encode_continuous(control, params, env.config.history), state

    return Policy(policy.init, act)


def continuous_action(
    env: AutoTrainEnv, params: EnvParams, lr_factor, rewind=0, stop=False
) -> jax.Array:
    """The continuous action for LR x `lr_factor` (clipped to the set's range),
    rewind `rewind`, and a stop if `stop`."""
    control = actions.Control(
        lr_factor=jnp.asarray(lr_factor, jnp.float32),
        rewind=jnp.asarray(rewind, jnp.int32),
        batch_factor=jnp.float32(1.0),
        reinit=jnp.bool_(False),
        stop=jnp.asarray(stop, bool),
        invalid=jnp.bool_(False),
    )
    return actions.encode_continuous(control, params, env.config.history)


def schedule(env, params, lr_at: Callable[[jax.Array], jax.Array]) -> Policy:
    """Follows `lr_at(t)`: each step asks for the factor from the current LR.

    Raises:
      ValueError: if `params.initial_lr` is a range (schedules start from a
        known LR: evaluate them on fixed tasks).
    """
    if is_range(params.initial_lr):
        raise ValueError(
            "baseline schedules need a fixed initial_lr, got the range "
            f"{params.initial_lr}; evaluate them on fixed tasks"
        )

    def act(key, obs, t):
        lr, _ = newest_lr_and_score(env.config, obs)
        lr = jnp.where(t == 0, params.initial_lr, lr)
        return continuous_action(env, params, lr_at(t) / lr), t + 1

    return Policy(lambda: jnp.int32(0), act)


def constant(env, params, lr: float | None = None) -> Policy:
    """Trains at `lr` throughout (default: the initial LR), set on the first step;
    sweep `lr` for a tuned constant."""
    lr = params.initial_lr if lr is None else lr
    return schedule(env, params, lambda t: jnp.asarray(lr, jnp.float32))


def step_decay(env, params, every: int = 10, factor: float = 0.5) -> Policy:
    """LR x `factor` every `every` env steps."""
    return schedule(env, params, lambda t: params.initial_lr * factor ** (t // every))


def cosine_decay(env, params, horizon: int, final_fraction: float = 0.01) -> Policy:
    """Cosine from the initial LR to `final_fraction` of it over `horizon` steps."""

    def lr_at(t):
        return params.initial_lr * actions.cosine_fraction(t, horizon, final_fraction)

    return schedule(env, params, lr_at)


def keep(env, params) -> Policy:
    """The LR the run started at, throughout, in the env's own action set (never
    a rewind, re-init or stop): a constant LR that needs no fixed `initial_lr`
    (so one program serves a grid of them)."""
    if env.config.action_set == "continuous":
        action = continuous_action(env, params, 1.0)
    else:
        action = actions.keep(env.config)
    return stateless(lambda key, obs: action)


def cosine_from_start(
    env, params, horizon: int, final_fraction: float = 0.01
) -> Policy:
    """`cosine_decay` from whatever LR the run starts at: each step asks for
    the cosine's ratio to its previous step, so it needs no fixed `initial_lr`
    (one program serves a grid of peak LRs)."""

    def fraction(t):
        return actions.cosine_fraction(t, horizon, final_fraction)

    def act(key, obs, t):
        factor = jnp.where(t == 0, 1.0, fraction(t) / fraction(t - 1))
        return continuous_action(env, params, factor), t + 1

    return Policy(lambda: jnp.int32(0), act)


class _Tracker(NamedTuple):
    best: jax.Array  # () float32, best score seen
    since: jax.Array  # () int32, steps since the best (or since the last cut)
    t: jax.Array  # () int32


def _track(tracker: _Tracker, score, started) -> _Tracker:
    improved = started & (score > tracker.best)
    return _Tracker(
        best=jnp.where(improved, score, tracker.best),
        since=jnp.where(improved | ~started, 0, tracker.since + 1),
        t=tracker.t + 1,
    )


def _new_tracker():
    return _Tracker(jnp.float32(-jnp.inf), jnp.int32(0), jnp.int32(0))


def reduce_on_plateau(env, params, patience: int = 3, factor: float = 0.5) -> Policy:
    """LR x `factor` when the score has not improved for `patience` steps."""

    def act(key, obs, tracker):
        _, score = newest_lr_and_score(env.config, obs)
        tracker = _track(tracker, score, tracker.t > 0)
        cut = tracker.since >= patience
        action = continuous_action(env, params, jnp.where(cut, factor, 1.0))
        return action, tracker._replace(since=jnp.where(cut, 0, tracker.since))

    return Policy(_new_tracker, act)


def early_stopping(env, params, patience: int | None = None) -> Policy:
    """Stops when the score has not improved for `patience` steps, restoring the
    best-scoring weights (a rewind of `patience`, so patience <= H - 1)."""
    patience = env.config.history - 1 if patience is None else patience
    if not 1 <= patience <= env.config.history - 1:
        raise ValueError(
            f"patience must be in [1, H - 1 = {env.config.history - 1}], got {patience}"
        )

    def act(key, obs, tracker):
        _, score = newest_lr_and_score(env.config, obs)
        tracker = _track(tracker, score, tracker.t > 0)
        stop = tracker.since >= patience
        action = continuous_action(
            env, params, 1.0, jnp.where(stop, tracker.since, 0), stop
        )
        return action, tracker

    return Policy(_new_tracker, act)


def random_policy(env) -> Policy:
    """Uniform over the env's own action space."""
    space = env.action_space()
    return stateless(lambda key, obs: space.sample(key))


def exploit_explore(
    states: EnvState, key: jax.Array, num_copy: int, factors, params: EnvParams
) -> EnvState:
    """PBT's exploit and explore over a batched population [P, ...].

    The `num_copy` lowest-scoring members copy the whole state (weights, optimizer
    state, history, LR) of random members among the `num_copy` best, then scale
    the copied LR by a random one of `factors`.
    """
    order = jnp.argsort(states.score)  # ascending: bottom first
    bottom, top = order[:num_copy], order[-num_copy:]
    key_pick, key_factor = jax.random.split(key)
    donors = jax.random.choice(key_pick, top, (num_copy,))
    factor = jax.random.choice(key_factor, jnp.asarray(factors), (num_copy,))
    copied = jax.tree.map(lambda x: x.at[bottom].set(x[donors]), states)
    lr = jnp.clip(copied.lr.at[bottom].multiply(factor), params.lr_min, params.lr_max)
    return copied.replace(lr=lr)


def pbt_rollout(
    env: AutoTrainEnv,
    params: EnvParams,
    key: jax.Array,
    population: int = 8,
    interval: int = 4,
    quantile: float = 0.25,
    factors: tuple[float, float] = (0.8, 1.2),
    num_steps: int | None = None,
    initial_lrs: tuple[float, ...] | None = None,
) -> EnvState:
    """Population Based Training (Jaderberg et al. 2017) inside one jit.

    Members start at the task's initial LR, or at `initial_lrs` (one per
    member: a population spread over a grid).

    Every `interval` env steps, each member in the bottom `quantile` by score
    copies the weights, optimizer state, weight history and LR of a random member
    of the top `quantile` (exploit), then multiplies that LR by a random one of
    `factors` (explore). Returns the batched final states [population, ...].
    """
    num_copy = max(1, int(population * quantile))
    horizon = max_budget(params) if num_steps is None else num_steps
    keep = continuous_action(env, params, 1.0)
    step = jax.vmap(env.step_env, in_axes=(0, 0, None, None))
    key_reset, key_steps = jax.random.split(key)
    # member 0 starts from the initial weights `run_policy` gives the same key,
    # so PBT's row pairs with the others; the rest from keys of their own
    member_keys = jnp.concatenate(
        [key_reset[None], jax.random.split(key_reset, population - 1)]
    )
    _, states = jax.vmap(env.reset, in_axes=(0, None))(member_keys, params)
    if initial_lrs is not None:
        if len(initial_lrs) != population:
            raise ValueError(
                f"initial_lrs must hold one LR per member ({population}), "
                f"got {initial_lrs}"
            )
        states = states.replace(lr=jnp.asarray(initial_lrs, jnp.float32))

    def one(states, inputs):
        t, key = inputs
        key_step, key_pbt = jax.random.split(key)
        _, states, *_ = step(
            jax.random.split(key_step, population), states, keep, params
        )
        ready = ((t + 1) % interval == 0) & (t + 1 < horizon)
        states = jax.lax.cond(
            ready,
            lambda s, k: exploit_explore(s, k, num_copy, factors, params),
            lambda s, k: s,
            states,
            key_pbt,
        )
        return states, None

    steps = (jnp.arange(horizon), jax.random.split(key_steps, horizon))
    states, _ = jax.lax.scan(one, states, steps)
    return states
