"""The AutoTrain MDP: steering a classifier's training, as pure JAX functions."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from gymnax.environments import environment, spaces
from optax.tree_utils import tree_where

from autotrain_jax import actions, observation
from autotrain_jax.config import EnvConfig
from autotrain_jax.control_flow import when
from autotrain_jax.history import rewind_reinitialises
from autotrain_jax.models import INIT_METHODS
from autotrain_jax.params import EnvParams, check_params
from autotrain_jax.reference import Reference
from autotrain_jax.scoring import finite_losses, shaping_reward
from autotrain_jax.state import EnvState
from autotrain_jax.tasks import Task, sample_task
from autotrain_jax.trainee import Outcome, Trainee


class AutoTrainEnv(environment.Environment[EnvState, EnvParams]):
    """The AutoTrain MDP as a gymnax (>= 1.0) environment.

    `reset(key, params) -> (obs, state)`; `step(key, state, action, params) ->
    (obs, state, reward, terminated, truncated, info)` auto-resets: on
    `terminated | truncated` it returns the first observation of a new episode
    and puts the last one in `info["final_observation"]`. `step_env`/`reset_env`
    are the raw MDP. Stop, divergence and the end of the episode's budget are all
    `terminated`: the budget is part of the task, and its final reward closes the
    return; the env itself never truncates (`truncated` is for limits imposed
    from outside, e.g. by a wrapper).
    `trainee` is the network a step trains (`autotrain_jax.trainee.Trainee`);
    `trainee.train(key, params, opt_state, lr, data)` is the bare inner
    training one step runs (T optimizer steps), for baselines and benchmarks.

    With a set of inner optimizers (`EnvConfig.optimizer` a tuple), every
    episode draws one; `optimizer_member` fixes it to that index of the set
    instead (the state then holds that member's optimizer state only), which
    `batch_groups` uses.
    """

    def __init__(
        self, config: EnvConfig, params: EnvParams, optimizer_member: int | None = None
    ):
        check_params(params)
        config.check_hidden_widths(params.hidden_widths)
        self.config = config
        self._default_params = params
        self.optimizer_member = optimizer_member
        self.trainee = Trainee(config, params.data, optimizer_member)

    def __reduce__(self):
        """Pickled and deep-copied as its settings, rebuilt by `__init__` (its
        compiled pieces are closures, which pickle cannot store)."""
        return type(self), (self.config, self._default_params, self.optimizer_member)

    def batch_groups(self, num_envs: int) -> tuple[tuple[range, AutoTrainEnv], ...]:
        """A batch of `num_envs` envs as groups of consecutive rows, each with
        the env that steps it (`autotrain_jax.vector.batched(..., grouped=True)`
        vmaps each group with its own program).

        With a set of K inner optimizers: K groups of sizes within one of each
        other, group k's episodes always training with member k, so that each
        group's program steps one optimizer, not all K. The set is then spread
        evenly over the batch (row r trains with member `r * K // num_envs`)
        instead of drawn per episode; the other settings are drawn as before.
        With one optimizer: one group, this env.

        Raises:
          ValueError: if `num_envs` is smaller than the set (a member would
            never run).
        """
        num = len(self.config.optimizer_names)
        if num == 1 or self.optimizer_member is not None:
            return ((range(num_envs), self),)
        if num_envs < num:
            raise ValueError(
                f"num_envs ({num_envs}) must be at least the number of inner "
                f"optimizers ({num}) to group a batch by optimizer"
            )
        bounds = [-(-k * num_envs // num) for k in range(num + 1)]
        return tuple(
            (range(bounds[k], bounds[k + 1]), self.pinned(k)) for k in range(num)
        )

    def pinned(self, optimizer_member: int) -> AutoTrainEnv:
        """This env with every episode's inner optimizer the set's member
        `optimizer_member` (see the class docstring)."""
        return type(self)(self.config, self._default_params, optimizer_member)

    @property
    def name(self) -> str:
        """The env's name, "AutoTrain" (the preset is in `config`)."""
        return "AutoTrain"

    @property
    def default_params(self) -> EnvParams:
        """The parameters (and data) the env was built with."""
        return self._default_params

    @property
    def num_actions(self) -> int:
        """Discrete action ids, or the box's dimension (gymnax's convention)."""
        return actions.num_actions(self.config)

    def action_space(self, params: EnvParams | None = None) -> spaces.Space:
        """`Discrete(num_actions)`, or `Box(-1, 1, (4,))` for the box sets."""
        if actions.is_box(self.config):
            return spaces.Box(-1.0, 1.0, (actions.CONTINUOUS_DIM,))
        return spaces.Discrete(self.num_actions)

    def observation_space(self, params: EnvParams | None = None) -> spaces.Box:
        """Unbounded float32 records, shape `(history, record_size)`."""
        shape = (self.config.history, self.config.record_size)
        return spaces.Box(-jnp.inf, jnp.inf, shape)

    # -- gymnax API ---------------------------------------------------------------
    def reset(
        self, key: jax.Array, params: EnvParams | None = None
    ) -> tuple[jax.Array, EnvState]:
        """Starts an episode (fresh weights, the task drawn from `params`).

        Returns:
          obs: `(history, record_size)` float32, all zero (no record yet);
          state: the new `EnvState`.
        """
        return self.reset_env(key, self._default_params if params is None else params)

    def step(
        self,
        key: jax.Array,
        state: EnvState,
        action: jax.Array,
        params: EnvParams | None = None,
    ) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, jax.Array, dict]:
        """One environment step (T inner optimizer steps), auto-resetting.

        Returns:
          obs: the next observation; the first one of a new episode where this
            step ended one;
          state: the next state (likewise restarted where the episode ended);
          reward: () float32;
          terminated: () bool: stop, divergence or the end of the budget;
          truncated: () bool, always False (see the class docstring);
          info: `step_env`'s info, plus "final_observation" (the observation
            the step produced, before any reset), "terminated" and "truncated".
        """
        params = self._default_params if params is None else params
        key_step, key_reset = jax.random.split(key)
        obs, state, reward, terminated, info = self.step_env(
            key_step, state, action, params
        )
        truncated = self.is_truncated(state, params)
        info |= {
            "final_observation": obs,
            "terminated": terminated,
            "truncated": truncated,
        }
        state = self._restart(key_reset, state, params, where=terminated | truncated)
        return self.get_obs(state), state, reward, terminated, truncated, info

    def is_truncated(self, state: EnvState, params: EnvParams) -> jax.Array:
        """False: the budget's end is `terminated` (gymnax's default would read
        `params.max_steps_in_episode`, which may be a range here)."""
        return jnp.bool_(False)

    def get_obs(self, state: EnvState, params=None, key=None) -> jax.Array:
        """The last H records, oldest first, zero rows before the first record."""
        return state.records

    def reset_env(
        self, key: jax.Array, params: EnvParams
    ) -> tuple[jax.Array, EnvState]:
        """`reset` with explicit `params`: the raw MDP's first state."""
        key_template, key_restart = jax.random.split(key)
        net, opt_state = self.trainee.fresh(key_template)
        task = self._sample_task(key_template, params)
        template = EnvState.template(net, opt_state, task, self.config)
        state = self._restart(key_restart, template, params)
        return self.get_obs(state), state

    def step_env(
        self, key: jax.Array, state: EnvState, action: jax.Array, params: EnvParams
    ) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, dict]:
        """The raw MDP's step, without auto-reset (gymnax's `step_env`).

        Decodes `action`, rescales the LR, rewinds or re-initialises, runs T
        inner optimizer steps, scores them with Thresholdout and records them.

        Returns:
          obs: the next observation (the last H records);
          state: the next state; the episode is over if `terminated`;
          reward: () float32, finite (see `EnvConfig.reward`);
          terminated: () bool: stop, divergence or the end of the budget;
          info: per-step diagnostics: "losses" (K,), "lr", "score",
            "train_accuracy", "holdout_accuracy", "inner_steps",
            "total_inner_steps", "batch_size", "inner_samples", "diverged", the
            decoded `Control` fields, and the episode's task ("initial_lr",
            "budget", "train_subset_size", "dataset").
        """
        key_reinit, key_train = jax.random.split(key)
        control = actions.decode(action, params, self.config)
        prev_score = state.score
        reinit = control.reinit | rewind_reinitialises(
            self.config.rewind_past_oldest,
            control.rewind,
            state.weight_history.count,
            control.stop,
        )
        state = state.replace(lr=actions.scale_lr(state.lr, control.lr_factor, params))
        state = state.scale_batch(control.batch_factor, self.config.batch_range)
        state = state.rewind(control.rewind)
        state = self._reinit(key_reinit, state, params, where=reinit)
        outcome = self._train_and_score(key_train, state, params)
        diverged = outcome.diverged & ~control.stop  # a stop step's training is unused
        trained = ~control.stop & ~diverged
        update = self._update_size(state.weights, outcome.weights, trained)
        state = state.commit(outcome, where=trained)
        inner_steps = jnp.where(control.stop, 0, self.config.inner_steps)
        inner_samples = inner_steps * state.batch_size
        state = state.replace(
            time=state.time + 1,
            inner_steps=state.inner_steps + inner_steps,
            inner_samples=state.inner_samples + inner_samples,
        )
        state = state.note_first_loss(outcome.losses, where=trained)
        state = state.append_record(
            outcome.losses, self.config, params.max_loss, ~control.stop, update
        )
        if state.reference is not None:
            reference = state.reference.advance(
                self.trainee, key_train, state.task, self.config.batch_size, params
            )
            state = state.replace(reference=reference)

        terminated = control.stop | diverged | (state.time >= state.task.budget)
        cost_steps = inner_samples / self.config.batch_size  # in default batches
        if state.reference is not None:
            reward, end = state.reference.reward(
                outcome.losses, state.score, params, trained, cost_steps
            )
        else:
            reward = shaping_reward(
                self.config.reward, state.score, prev_score, params, cost_steps
            )
            end = params.final_reward_scale * state.score
        reward = jnp.where(
            diverged, params.divergence_penalty, reward + terminated * end
        )
        info = {
            "losses": jnp.where(
                control.stop, 0.0, finite_losses(outcome.losses, params.max_loss)
            ),
            "lr": state.lr,
            "score": state.score,
            "train_accuracy": state.train_accuracy,
            "holdout_accuracy": state.holdout_accuracy,
            "inner_steps": inner_steps,
            "total_inner_steps": state.inner_steps,
            "batch_size": state.batch_size,
            "inner_samples": inner_samples,
            "diverged": diverged,
            **control._asdict(),
            "reinit": reinit,  # every re-init, the implicit one past the oldest too
            "initial_lr": state.task.initial_lr,
            "budget": state.task.budget,
            "train_subset_size": state.task.train_subset_size,
            "dataset": state.task.dataset,
        }
        return self.get_obs(state), state, reward.astype(jnp.float32), terminated, info

    # -- pieces of the step, each a pure state -> state function ------------------
    def _sample_task(self, key: jax.Array, params: EnvParams) -> Task:
        num = len(self.config.optimizer_names)
        return sample_task(key, params, num, self.optimizer_member)

    def _reinit(
        self, key: jax.Array, state: EnvState, params: EnvParams, where=True
    ) -> EnvState:
        """If `where`: fresh weights and optimizer state, scored by Thresholdout;
        the history holds only them.

        The draw and its score run only when some env of a vmapped batch needs
        them (`when`); the history is restarted outside it, masked with
        `where`, so that under `vmap` one history slot is selected and none of
        the history is gathered for the draw.
        """

        def draw(key, task, params):
            net, opt_state = self.trainee.fresh(key, task)
            evaluation = self.trainee.evaluate(
                jax.random.fold_in(key, 1), net, task, params
            )
            return net, opt_state, evaluation

        current = (state.weights, state.opt_state, state.evaluation)
        net, opt_state, evaluation = when(where, draw, current, key, state.task, params)
        snapshot = (net, opt_state, evaluation.score)
        history = state.weight_history.restart(snapshot, where)
        return state.measure(evaluation).replace(
            weights=net, opt_state=opt_state, weight_history=history
        )

    def _train_and_score(self, key, state: EnvState, params: EnvParams) -> Outcome:
        """T inner steps from the state's weights, then Thresholdout."""
        weights, opt_state, task = state.weights, state.opt_state, state.task
        lr = actions.block_lr(self.config, state.lr, state.time, task.budget)
        return self.trainee.train_and_score(
            key, weights, opt_state, lr, state.batch_size, task, params
        )

    def _restart(self, key: jax.Array, state: EnvState, params, where=True):
        """If `where`, a new episode reusing `state`'s buffers: cheap to auto-reset.

        The task is drawn first (its training subset scores the fresh weights);
        the warm-up, like the fresh draw, runs only if some env restarts.
        """
        key_init, key_warm = jax.random.split(key)
        task = self._sample_task(jax.random.fold_in(key, 1), params)
        state = state.replace(task=tree_where(where, task, state.task))
        state = self._reinit(key_init, state, params, where)
        state = state.replace(
            lr=jnp.where(where, state.task.initial_lr, state.lr),
            records=jnp.where(where, 0.0, state.records),
            time=jnp.where(where, 0, state.time),
            inner_steps=jnp.where(where, 0, state.inner_steps),
            first_loss=jnp.where(where, 0.0, state.first_loss),
            batch_size=jnp.where(where, self.config.batch_size, state.batch_size),
            inner_samples=jnp.where(where, 0, state.inner_samples),
        )
        if self.config.warm_start:
            state = when(where, self._warm_start, state, key_warm, state, params)
        if state.reference is not None:  # starts where the controlled run starts
            start = Reference.start(
                state.weights, state.opt_state, state.score, self.config.num_losses
            )
            reference = tree_where(where, start, state.reference)
            state = state.replace(reference=reference)
        return state

    def _update_size(self, before, after, trained) -> jax.Array:
        """The block's relative weight change if it trained, else 0; computed
        only where a record shows it (`observe_update`)."""
        if not self.config.observe_update:
            return jnp.float32(0.0)
        return jnp.where(trained, observation.relative_change(before, after), 0.0)

    def _warm_start(self, key: jax.Array, state: EnvState, params) -> EnvState:
        """H - 1 records, each from a fresh init (methods in turn) trained T steps."""

        def fill(state, inputs):
            key, method = inputs
            key_init, key_train = jax.random.split(key)
            net = self.trainee.initialise(key_init, method, state.task)
            opt_state = self.trainee.optimizer.init(net)
            state = state.replace(weights=net, opt_state=opt_state)
            outcome = self._train_and_score(key_train, state, params)
            update = self._update_size(net, outcome.weights, ~outcome.diverged)
            state = state.commit(outcome, where=~outcome.diverged)
            inner_steps = self.config.inner_steps
            state = state.replace(
                inner_steps=state.inner_steps + inner_steps,
                inner_samples=state.inner_samples + inner_steps * state.batch_size,
            )
            state = state.note_first_loss(outcome.losses, ~outcome.diverged)
            return state.append_record(
                outcome.losses, self.config, params.max_loss, update=update
            ), None

        num = self.config.history - 1
        methods = jnp.arange(num) % len(INIT_METHODS)
        state, _ = jax.lax.scan(fill, state, (jax.random.split(key, num), methods))
        return state

    # -- evaluation only ----------------------------------------------------------
    def accuracy(
        self, state: EnvState, params: EnvParams, split: str = "test", batch_size=256
    ) -> jax.Array:
        """Accuracy of the current weights on a whole split (`step` never calls this).

        `split` is `train` (the episode's training subset), `holdout` or `test`
        (of the episode's dataset, in a combined Dataset).
        """
        if split not in ("train", "holdout", "test"):
            raise ValueError(f"split must be train, holdout or test, got {split!r}")
        return self.trainee.accuracy(
            state.weights, state.opt_state, state.task, params, split, batch_size
        )
