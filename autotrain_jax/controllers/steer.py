"""A trained controller in your own training loop: an optax transformation for
its LR decisions, and a small helper for the decisions that touch the weights.

    controller = controllers.load("meta-tiny-v0")
    optimizer = optax.chain(
        optax.sgd(0.1, momentum=0.9),  # your optimizer, at your initial LR
        controllers.steer(controller, initial_lr=0.1, budget=30),
    )
    opt_state = optimizer.init(params)
    steering = controllers.Steering(controller, optimizer, params, opt_state)
    for step in range(...):
        loss, grads = jax.value_and_grad(loss_fn)(params, batch)
        updates, opt_state = optimizer.update(
            grads, opt_state, params, value=loss, score=holdout_accuracy
        )
        params = optax.apply_updates(params, updates)
        params, opt_state, stop = steering.after_step(params, opt_state)
        if stop:
            break

Every T (`inner_steps`) updates it does what the env does after T inner steps:
it turns the block's losses (means over `loss_every` steps), the LR, the score
and the progress through the `budget` into one observation record, asks the
controller, and scales the next T updates by the LR it chose (within
[lr_min, lr_max], shaped by its `lr_schedule`). The score is what the
controller was trained on: Thresholdout of training and holdout accuracy; your
holdout accuracy is the closest thing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from autotrain_jax import actions, observation
from autotrain_jax.history import rewind_depth, rewind_reinitialises
from autotrain_jax.params import EnvParams

# The env's numbers that turn a decision into an LR, a re-init or a stop: as
# the controller was trained with them.
ACTING = (
    "lr_min",
    "lr_max",
    "full_lr_factors",
    "reduced_lr_factors",
    "max_lr_factor",
    "reinit_threshold",
    "stop_threshold",
    "max_loss",
)


class SteerState(NamedTuple):
    """What `steer` carries between updates."""

    count: jax.Array  # () int32, updates so far
    loss_sums: jax.Array  # (K,) float32, this block's loss sums per loss_every
    lr: jax.Array  # () float32, the LR of the current block
    records: jax.Array  # (H, F) float32, the controller's observation
    time: jax.Array  # () int32, blocks of T updates done
    first_loss: jax.Array  # () float32, the run's first block loss (scale_free)
    score: jax.Array  # () float32, the last score given
    train_accuracy: jax.Array  # () float32, the last training accuracy given
    control: actions.Control  # the controller's last decision
    start: Any  # the weights this block started from (`observe_update`), or None
    update: jax.Array  # () float32, the last relative weight change given


def steer(
    controller,
    initial_lr: float,
    budget: int,
    *,
    lr_min: float | None = None,
    lr_max: float | None = None,
    adaptive: bool | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Scales updates by the controller's LR over `initial_lr`, deciding every
    `controller.env_config.inner_steps` updates.

    Chain it after an optimizer whose LR is `initial_lr` (the LR the controller
    starts from). `update(updates, state, params, *, value, score=None,
    train_accuracy=None, weight_change=None)`: `value` is this update's
    training loss; `score` (a holdout accuracy, say) and `train_accuracy` are
    read at the end of a block when given, else the last ones given are kept
    (`train_accuracy` defaults to `score`). A non-finite loss is shown as the
    env shows one (`max_loss`); a non-finite score or accuracy is ignored (the
    last finite one is kept).

    A controller trained with `observe_update` also sees the block's relative
    weight change. `steer` measures it from `params` (pass the weights to
    `init` and to every `update`, as `optax.apply_updates` expects) between
    the block's first update and its last one applied. A loop that is not
    JAX's passes it to every update as `weight_change` instead, read at the
    block's end like `score` (NaN: not measured; `autotrain_jax.torch` does
    this).
    The last decision is `state.control`; `Steering` applies its
    rewind, re-init and stop.

    Args:
      controller: a `controllers.Controller`.
      initial_lr: the LR the chained optimizer applies.
      budget: the run's length in blocks of T updates (its progress input).
      lr_min: the lowest LR (default: the controller's training's, else the
        env's 1e-5).
      lr_max: the highest LR (default: the controller's training's, else the
        env's 1).
      adaptive: whether the chained optimizer scales its step per parameter
        (Adam-like: `config.ADAPTIVE`); required by a controller trained with
        `observe_optimizer`, ignored by others.

    Raises:
      ValueError: for a controller whose observation needs what steer does
        not compute (the `self_play` batch size, `observe_task`), or what it
        was not given (`adaptive`), one trained to steer an LR-free optimizer
        (its LR acts inside that optimizer), or bad `initial_lr` / `budget`.
    """
    config = controller.env_config
    if config.action_set == "self_play" or config.observe_task:
        raise ValueError(
            "steer supports controllers with action_set in ('full', 'reduced', "
            "'continuous') and observe_task=False, got "
            f"{config.action_set!r}, observe_task={config.observe_task}"
        )
    if name := getattr(controller, "steers", None):  # a stand-in may not say
        raise ValueError(
            f"the controller was trained to steer {name!r}, its LR a multiple of "
            "the LR inside that optimizer; steer scales the updates of the "
            "optimizer chained before it, which cannot apply such a controller: "
            "evaluate it in its env (Controller.make_env) or a suite "
            "(autotrain-jax compare)"
        )
    if config.observe_optimizer and not isinstance(adaptive, bool):
        raise ValueError(
            "a controller trained with observe_optimizer=True needs adaptive=True "
            f"(Adam-like) or False (SGD-like), got {adaptive!r}"
        )
    if not initial_lr > 0 or not int(budget) >= 1:
        raise ValueError(
            f"initial_lr must be > 0 and budget >= 1, got {initial_lr}, {budget}"
        )
    settings = getattr(controller, "settings", {})  # a stand-in may have none
    trained = {k: v for k, v in settings.items() if k in ACTING}
    env_params = EnvParams(data=None).replace(**trained)
    env_params = env_params.replace(
        lr_min=env_params.lr_min if lr_min is None else lr_min,
        lr_max=env_params.lr_max if lr_max is None else lr_max,
    )
    period, every = config.inner_steps, config.loss_every

    def decide(state: SteerState) -> SteerState:
        """Asks the controller; the LR it chose holds for the next block."""
        control = actions.decode(
            controller.policy(None, state.records), env_params, config
        )
        lr = actions.scale_lr(state.lr, control.lr_factor, env_params)
        return state._replace(lr=lr, control=control)

    def init_fn(params) -> SteerState:
        zeros = jnp.zeros((config.history, config.record_size), jnp.float32)
        watched = config.observe_update and params is not None
        state = SteerState(
            count=jnp.int32(0),
            loss_sums=jnp.zeros(config.num_losses, jnp.float32),
            lr=jnp.float32(initial_lr),
            records=zeros,
            time=jnp.int32(0),
            first_loss=jnp.float32(0),
            score=jnp.float32(0),
            train_accuracy=jnp.float32(0),
            control=actions.decode(actions.keep(config), env_params, config),
            start=jax.tree.map(jnp.asarray, params) if watched else None,
            update=jnp.float32(0),
        )
        return decide(state)  # the env's first action, on its all-zero reset obs

    def end_block(state: SteerState) -> SteerState:
        losses = state.loss_sums / every
        # as the env: the first loss of a block that trained finitely
        finite = jnp.all(jnp.isfinite(losses))
        first_loss = observation.first_loss(state.first_loss, losses, finite)
        time = state.time + 1
        new = observation.record(
            config,
            losses,
            lr=state.lr,
            score=state.score,
            train_accuracy=state.train_accuracy,
            progress=time / budget,
            first_loss=first_loss,
            max_loss=env_params.max_loss,
            update=jnp.where(finite, state.update, 0.0),  # the env's, on divergence
            adaptive=bool(adaptive),
        )
        state = state._replace(
            loss_sums=jnp.zeros_like(state.loss_sums),
            records=observation.append(state.records, new),
            time=time,
            first_loss=first_loss,
        )
        return decide(state)

    def update_fn(updates, state: SteerState, params=None, *, value, **extra):
        # this update belongs to the current block
        scale = actions.block_lr(config, state.lr, state.time, budget) / initial_lr
        updates = jax.tree.map(lambda u: (u * scale).astype(u.dtype), updates)
        slot = (state.count % period) // every
        ends = (state.count + 1) % period == 0
        state = state._replace(
            count=state.count + 1,
            loss_sums=state.loss_sums.at[slot].add(jnp.asarray(value, jnp.float32)),
            score=_given(extra.get("score"), state.score),
            train_accuracy=_given(
                extra.get("train_accuracy", extra.get("score")), state.train_accuracy
            ),
        )
        if config.observe_update:
            state = watch(state, params, updates, ends, extra.get("weight_change"))
        state = jax.lax.cond(ends, end_block, lambda s: s, state)
        return updates, state

    def watch(state: SteerState, params, updates, ends, given) -> SteerState:
        """`state` with the block's relative weight change (`observe_update`):
        `given` if given, else measured from the weights at the block's first
        update to those after its last."""
        if given is not None:
            return state._replace(update=_given(given, state.update))
        if params is None or state.start is None:
            raise ValueError(
                "a controller trained with observe_update=True needs the weights: "
                "pass params to the optimizer's init and to every update (or "
                "weight_change at each block's end)"
            )
        begins = (state.count - 1) % period == 0
        start = jax.lax.cond(begins, lambda: params, lambda: state.start)
        change = jax.lax.cond(
            ends,
            lambda: observation.relative_change(
                start, optax.apply_updates(params, updates)
            ),
            lambda: state.update,
        )
        return state._replace(start=start, update=change)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def _given(value, last: jax.Array) -> jax.Array:
    """`value` if given and finite; else the last one (the env's score is never
    non-finite: a diverged block keeps its last finite weights and score)."""
    if value is None:
        return last
    value = jnp.asarray(value, jnp.float32)
    return jnp.where(jnp.isfinite(value), value, last)


class Steering:
    """Applies the decisions of a `steer` transformation that touch the weights:
    rewind (it keeps the last H weights and optimizer states, one per block;
    past the oldest, what the controller's `rewind_past_oldest` says),
    re-initialise, and stop. The env applies them as this does
    (`tests/test_steer.py` runs both side by side), with one difference: the
    first decision, taken on the all-zero observation before any update, sets
    the first block's LR only; the loop starts from the weights it was given.

    Args:
      controller: the controller `steer` uses.
      optimizer: the whole chained optimizer (for a re-init's fresh state).
      params: the weights training starts from (the first snapshot, as the
        env's history holds the initial weights).
      opt_state: the optimizer state training starts from.
      init_params: `key -> params` for re-initialisations; None restarts from
        `params`.
      key: the key re-initialisations draw from.
    """

    def __init__(
        self,
        controller,
        optimizer: optax.GradientTransformation,
        params,
        opt_state,
        init_params: Callable[[jax.Array], Any] | None = None,
        key: jax.Array | None = None,
    ):
        self._config = controller.env_config
        self._optimizer = optimizer
        self._initial = params
        self._init_params = init_params
        self._key = jax.random.key(0) if key is None else key
        self._snapshots: list[tuple[Any, Any]] = [(params, opt_state)]
        self._period = controller.env_config.inner_steps
        # Updates counted here, so that no update but a block's last waits on
        # the device to read the steering state.
        self._count = int(_find(opt_state).count)

    def after_step(self, params, opt_state) -> tuple[Any, Any, bool]:
        """Call after every update (and only then: it counts them). At a block's
        end, snapshots the weights and applies the controller's decision.

        Returns:
          (params, opt_state, stop): the weights and optimizer state to go on
          from (a rewind restores an older pair, keeping the steering state),
          and whether the controller stopped the run.
        """
        self._count += 1
        if self._count % self._period:  # not at a block's end
            return params, opt_state, False
        state = _find(opt_state)
        decision = decide_block(
            self._snapshots, (params, opt_state), state.control, self._config
        )
        self._snapshots = decision.snapshots
        if decision.restore is not None:
            params, old = decision.restore
            opt_state = _with_steering(old, state)
        if decision.stop:
            return params, opt_state, True
        if decision.reinit:
            self._key, key = jax.random.split(self._key)
            init = self._init_params
            params = self._initial if init is None else init(key)
            opt_state = _with_steering(self._optimizer.init(params), state)
            self._snapshots = [(params, opt_state)]
        return params, opt_state, False


class BlockDecision(NamedTuple):
    """What a controller's decision at a block's end does to a training loop."""

    snapshots: list  # the (at most H) snapshots kept, the newest last
    restore: Any  # the snapshot to go on from (a rewind), or None: go on
    stop: bool
    reinit: bool  # start again from fresh weights (after any restore)


def decide_block(snapshots: list, current: Any, control, config) -> BlockDecision:
    """The env's bookkeeping of a decision, for a loop outside the env (optax's
    `Steering`, `autotrain_jax.torch`): `current` (weights and optimizer state,
    in any form) joins the last H snapshots; a rewind of r drops the r newest
    (keeping the oldest) and restores the newest left; past the oldest it
    re-initialises if the controller was trained so (`rewind_past_oldest`)."""
    snapshots = [*snapshots, current][-config.history :]
    control = jax.device_get(control)
    reinit = control.reinit | rewind_reinitialises(
        config.rewind_past_oldest, control.rewind, len(snapshots), control.stop
    )
    rewind = int(rewind_depth(control.rewind, len(snapshots)))
    restore = None
    if rewind:
        snapshots = snapshots[: len(snapshots) - rewind]
        restore = snapshots[-1]
    return BlockDecision(snapshots, restore, bool(control.stop), bool(reinit))


def _is_steer(x) -> bool:
    return isinstance(x, SteerState)


def _find(opt_state) -> SteerState:
    found = [x for x in jax.tree.leaves(opt_state, is_leaf=_is_steer) if _is_steer(x)]
    if len(found) != 1:
        raise ValueError(
            f"opt_state must hold one steer() state, found {len(found)}: chain "
            "controllers.steer(...) into the optimizer"
        )
    return found[0]


def _with_steering(opt_state, steering: SteerState):
    """`opt_state` with its steer() state replaced by `steering`."""
    return jax.tree.map(
        lambda x: steering if _is_steer(x) else x, opt_state, is_leaf=_is_steer
    )
