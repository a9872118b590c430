"""The AutoTrain MDP: steering a classifier's training, as pure JAX functions."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import environment, spaces
from optax.tree_utils import tree_where

from autotrain_jax import actions
from autotrain_jax.config import EnvConfig
from autotrain_jax.control_flow import when
from autotrain_jax.history import WeightHistory, rewind_reinitialises
from autotrain_jax.models import INIT_METHODS, make_init_fn, make_model, mask_widths
from autotrain_jax.observation import record
from autotrain_jax.optimizers import InnerOptimizer
from autotrain_jax.params import EnvParams, check_params
from autotrain_jax.scoring import (
    finite_losses,
    relative_reward,
    shaping_reward,
    thresholdout_score,
)
from autotrain_jax.tasks import Task, labels, sample_task
from autotrain_jax.training import (
    accuracy,
    make_train_fn,
    sample_accuracy,
    tree_all_finite,
)


@struct.dataclass
class EnvState:
    """Everything one env carries between steps (a pytree; batch it with vmap)."""

    weights: Any  # the classifier's parameter pytree
    opt_state: Any  # optax state of the update direction (no LR inside)
    lr: jax.Array  # () float32, current learning rate
    weight_history: WeightHistory  # last H (weights, opt_state, score); newest: current
    records: jax.Array  # (H, F) float32, observation records, newest last
    score: jax.Array  # () float32, last Thresholdout score
    train_accuracy: jax.Array  # () float32, last training-subset accuracy sample
    holdout_accuracy: jax.Array  # () float32, last holdout accuracy sample
    time: jax.Array  # () int32, environment steps this episode
    inner_steps: jax.Array  # () int32, inner optimizer steps this episode
    task: Task  # this episode's sampled settings (initial LR, budget, subset)
    first_loss: jax.Array  # () float32, the episode's first loss; 0 before it
    batch_size: jax.Array  # () int32, inner minibatch size (self_play scales it)
    inner_samples: jax.Array  # () int32, training examples seen this episode
    reference: Reference | None  # the constant-LR run of reward="relative"


@struct.dataclass
class Reference:
    """The `relative` reward's reference: the episode's initial weights trained
    at its initial LR and batch size, on the controlled run's minibatches."""

    weights: Any  # the classifier's parameter pytree
    opt_state: Any
    losses: jax.Array  # (K,) float32, its last step's losses (finite)
    score: jax.Array  # () float32, its last Thresholdout score


class Evaluation(NamedTuple):
    """Thresholdout's view of one set of weights."""

    train_accuracy: jax.Array  # () float32, on a sample of the training subset
    holdout_accuracy: jax.Array  # () float32, on a sample of the holdout
    score: jax.Array  # () float32, Thresholdout answer


class Outcome(NamedTuple):
    """What T inner steps produced, before the step decides to keep it."""

    weights: Any  # the trained classifier's parameters
    opt_state: Any
    losses: jax.Array  # (K,) float32, may be non-finite
    evaluation: Evaluation
    diverged: jax.Array  # () bool, a loss or weight is not finite


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
    `inner_train(key, params, opt_state, lr, data)` is the bare inner training
    one step runs (T optimizer steps), for baselines and benchmarks.
    """

    def __init__(self, config: EnvConfig, params: EnvParams):
        check_params(params)
        config.check_hidden_widths(params.hidden_widths)
        self.config = config
        self._default_params = params
        data = params.data
        self._model = make_model(config, data.num_classes)
        self._init = make_init_fn(config, data.input_shape, data.num_classes)
        self._input_shape = data.input_shape
        self._optimizer = InnerOptimizer(config.optimizer)
        self.inner_train = make_train_fn(config, self._model, self._optimizer)

    def __reduce__(self):
        """Pickled and deep-copied as its settings, rebuilt by `__init__` (its
        compiled pieces are closures, which pickle cannot store)."""
        return type(self), (self.config, self._default_params)

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
        net, opt_state = self._fresh(key_template)
        template = EnvState(
            weights=net,
            opt_state=opt_state,
            lr=jnp.float32(0),
            weight_history=WeightHistory.create(
                (net, opt_state, jnp.float32(0)), self.config.history
            ),
            records=jnp.zeros((self.config.history, self.config.record_size)),
            score=jnp.float32(0),
            train_accuracy=jnp.float32(0),
            holdout_accuracy=jnp.float32(0),
            time=jnp.int32(0),
            inner_steps=jnp.int32(0),
            task=self._sample_task(key_template, params),
            first_loss=jnp.float32(0),
            batch_size=jnp.int32(self.config.batch_size),
            inner_samples=jnp.int32(0),
            reference=None,
        )
        if self.config.reward == "relative":
            losses = jnp.zeros(self.config.num_losses)
            reference = Reference(net, opt_state, losses, jnp.float32(0))
            template = template.replace(reference=reference)
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
            "budget", "train_size", "dataset").
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
        state = self._scale_lr(state, control.lr_factor, params)
        state = self._scale_batch(state, control.batch_factor)
        state = self._rewind(state, control.rewind)
        state = self._reinit(key_reinit, state, params, where=reinit)
        outcome = self._train_and_score(key_train, state, params)
        diverged = outcome.diverged & ~control.stop  # a stop step's training is unused
        trained = ~control.stop & ~diverged
        state = self._commit(state, outcome, where=trained)
        inner_steps = jnp.where(control.stop, 0, self.config.inner_steps)
        inner_samples = inner_steps * state.batch_size
        state = state.replace(
            time=state.time + 1,
            inner_steps=state.inner_steps + inner_steps,
            inner_samples=state.inner_samples + inner_samples,
        )
        state = self._note_first_loss(state, outcome.losses, where=trained)
        record = self._record(state, outcome.losses, params)
        state = self._append_record(state, record, where=~control.stop)
        if state.reference is not None:
            state = self._advance_reference(key_train, state, params)

        terminated = control.stop | diverged | (state.time >= state.task.budget)
        cost_steps = inner_samples / self.config.batch_size  # in default batches
        if self.config.reward == "relative":
            reward = relative_reward(outcome.losses, state.reference, params, trained)
            reward -= params.step_cost * cost_steps
            reference_score = state.reference.score
            end = params.relative_terminal * jnp.sign(state.score - reference_score)
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
            "train_size": state.task.train_size,
            "dataset": state.task.dataset,
        }
        return self.get_obs(state), state, reward.astype(jnp.float32), terminated, info

    # -- pieces of the step, each a pure state -> state function ------------------
    def _fresh(self, key: jax.Array, task: Task | None = None):
        """New weights (init method drawn uniformly) and optimizer state."""
        key_method, key_init = jax.random.split(key)
        method = jax.random.randint(key_method, (), 0, len(INIT_METHODS))
        net = self._initialise(key_init, method, task)
        return net, self._optimizer.init(net)

    def _sample_task(self, key: jax.Array, params: EnvParams) -> Task:
        return sample_task(key, params, len(self.config.optimizer_names))

    def _initialise(self, key: jax.Array, method: jax.Array, task: Task | None):
        """Weights by `method`, narrowed to the task's hidden widths if it has them."""
        net = self._init(key, method)
        if task is None or task.widths is None:
            return net
        input_dim = math.prod(self._input_shape)
        return mask_widths(net, task.widths, method, input_dim)

    def _scale_lr(self, state: EnvState, factor, params: EnvParams) -> EnvState:
        lr = jnp.clip(state.lr * factor, params.lr_min, params.lr_max)
        return state.replace(lr=lr.astype(jnp.float32))

    def _scale_batch(self, state: EnvState, factor) -> EnvState:
        low, high = self.config.batch_range
        size = jnp.clip(jnp.round(state.batch_size * factor), low, high)
        return state.replace(batch_size=size.astype(jnp.int32))

    def _advance_reference(self, key, state: EnvState, params) -> EnvState:
        """Trains the reference run T steps on the controlled run's minibatches
        and scores it with the same samples (the same `key`); like the
        controlled run, it keeps its last finite weights if training diverges."""
        reference = state.reference
        run = state.replace(
            weights=reference.weights,
            opt_state=reference.opt_state,
            lr=state.task.initial_lr,
            batch_size=jnp.int32(self.config.batch_size),
        )
        outcome = self._train_and_score(key, run, params)
        keep = ~outcome.diverged
        weights = tree_where(
            keep,
            (outcome.weights, outcome.opt_state),
            (reference.weights, reference.opt_state),
        )
        losses = finite_losses(outcome.losses, params.max_loss)
        score = jnp.where(keep, outcome.evaluation.score, reference.score)
        return state.replace(reference=Reference(*weights, losses, score))

    def _rewind(self, state: EnvState, num: jax.Array) -> EnvState:
        """Drops the `num` newest snapshots and restores the newest remaining one
        (weights, optimizer state and the score they had)."""
        history = state.weight_history.drop(num)
        net, opt_state, score = history.newest()
        return state.replace(
            weights=net, opt_state=opt_state, score=score, weight_history=history
        )

    def _reinit(
        self, key: jax.Array, state: EnvState, params: EnvParams, where=True
    ) -> EnvState:
        """If `where`: fresh weights and optimizer state, scored by Thresholdout;
        the history holds only them.

        The draw and its score run only when some env of a vmapped batch needs
        them (`when`); the rest is masked with `where` rather than `lax.cond`,
        so that under `vmap` only the weights and one history slot are
        selected, not the whole history.
        """

        def draw(key, task, history, params):
            net, opt_state = self._fresh(key, task)
            keys = jax.random.split(jax.random.fold_in(key, 1), 3)
            evaluation = self._evaluate(keys, net, task, params)
            history = history.restart((net, opt_state, evaluation.score))
            return net, opt_state, evaluation, history

        current = (
            state.weights,
            state.opt_state,
            self._measured(state),
            state.weight_history,
        )
        net, opt_state, evaluation, history = when(
            where, draw, current, key, state.task, state.weight_history, params
        )
        return self._measure(state, evaluation).replace(
            weights=net, opt_state=opt_state, weight_history=history
        )

    def _evaluate(self, keys, net, task: Task, params: EnvParams) -> Evaluation:
        """Thresholdout's score of `net` from samples of the task's training
        subset and of the holdout; `keys`: three keys, one per draw."""
        key_train_acc, key_holdout_acc, key_score = keys
        data, size = params.data, self.config.eval_batch_size
        train_acc = sample_accuracy(
            key_train_acc, self._model, net, data, "train", task, size
        )
        holdout_acc = sample_accuracy(
            key_holdout_acc, self._model, net, data, "holdout", task, size
        )
        score = thresholdout_score(
            key_score,
            train_acc,
            holdout_acc,
            params.threshold,
            params.threshold_noise,
            params.answer_noise,
        )
        return Evaluation(train_acc, holdout_acc, score)

    @staticmethod
    def _measured(state: EnvState) -> Evaluation:
        return Evaluation(state.train_accuracy, state.holdout_accuracy, state.score)

    @staticmethod
    def _measure(state: EnvState, evaluation: Evaluation) -> EnvState:
        return state.replace(
            train_accuracy=evaluation.train_accuracy,
            holdout_accuracy=evaluation.holdout_accuracy,
            score=evaluation.score,
        )

    def _train_and_score(self, key, state: EnvState, params: EnvParams) -> Outcome:
        """T inner steps from the state's weights, then Thresholdout."""
        key_train, *keys_evaluate = jax.random.split(key, 4)
        net, opt_state, losses = self.inner_train(
            key_train,
            state.weights,
            state.opt_state,
            state.lr,
            params.data,
            state.task,
            state.batch_size,
        )
        scored = self._optimizer.eval_weights(opt_state, net, state.task.optimizer)
        evaluation = self._evaluate(keys_evaluate, scored, state.task, params)
        diverged = ~(jnp.all(jnp.isfinite(losses)) & tree_all_finite(net))
        return Outcome(net, opt_state, losses, evaluation, diverged)

    def _commit(self, state: EnvState, outcome: Outcome, where) -> EnvState:
        """If `where`, the trained weights become current and enter the history."""
        trained = (outcome.weights, outcome.opt_state)
        net, opt_state = tree_where(where, trained, (state.weights, state.opt_state))
        snapshot = (*trained, outcome.evaluation.score)
        evaluation = tree_where(where, outcome.evaluation, self._measured(state))
        return self._measure(state, evaluation).replace(
            weights=net,
            opt_state=opt_state,
            weight_history=state.weight_history.push(snapshot, where),
        )

    @staticmethod
    def _note_first_loss(state: EnvState, losses: jax.Array, where) -> EnvState:
        """Keeps the episode's first training loss, the scale of `scale_free`."""
        unset = (state.first_loss == 0) & where
        return state.replace(first_loss=jnp.where(unset, losses[0], state.first_loss))

    def _record(self, state: EnvState, losses: jax.Array, params: EnvParams):
        """One observation record (see `observation.record`)."""
        return record(
            self.config,
            losses,
            lr=state.lr,
            score=state.score,
            train_accuracy=state.train_accuracy,
            progress=state.time / state.task.budget,
            first_loss=state.first_loss,
            max_loss=params.max_loss,
            batch_size=state.batch_size / self.config.batch_size,
            task=(state.task.budget, state.task.train_size),
        )

    def _append_record(self, state: EnvState, record: jax.Array, where=True):
        records = jnp.concatenate([state.records[1:], record[None]])
        return state.replace(records=jnp.where(where, records, state.records))

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
            start = Reference(
                state.weights,
                state.opt_state,
                jnp.zeros(self.config.num_losses),
                state.score,
            )
            reference = tree_where(where, start, state.reference)
            state = state.replace(reference=reference)
        return state

    def _warm_start(self, key: jax.Array, state: EnvState, params) -> EnvState:
        """H - 1 records, each from a fresh init (methods in turn) trained T steps."""

        def fill(state, inputs):
            key, method = inputs
            key_init, key_train = jax.random.split(key)
            net = self._initialise(key_init, method, state.task)
            state = state.replace(weights=net, opt_state=self._optimizer.init(net))
            outcome = self._train_and_score(key_train, state, params)
            state = self._commit(state, outcome, where=~outcome.diverged)
            inner_steps = self.config.inner_steps
            state = state.replace(
                inner_steps=state.inner_steps + inner_steps,
                inner_samples=state.inner_samples + inner_steps * state.batch_size,
            )
            state = self._note_first_loss(state, outcome.losses, ~outcome.diverged)
            return self._append_record(
                state, self._record(state, outcome.losses, params)
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
        data, task = params.data, state.task
        weights = self._optimizer.eval_weights(
            state.opt_state, state.weights, task.optimizer
        )
        xs = getattr(data, f"{split}_x")
        ys = labels(task, data, split, jnp.arange(xs.shape[0]))

        def correct(xy):
            x, y = xy
            x = data.normalize(x[None], task.dataset)
            return accuracy(self._model, weights, x, y[None])

        hits = jax.lax.map(correct, (xs, ys), batch_size=batch_size)
        subset = split == "train" and params.train_subset_size is not None
        if data.segments is None and not subset:
            return hits.mean()
        start, count = data.segment(split, task.dataset)
        position = jnp.arange(hits.shape[0]) - start
        inside = (position >= 0) & (position < count)
        if subset:  # the window of train_size examples from the offset
            inside &= (position - task.train_offset) % count < task.train_size
            count = task.train_size
        return jnp.sum(jnp.where(inside, hits, 0.0)) / count
