"""Inner optimizers from optax by name, one or a set drawn per episode."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import jax
import optax
from optax import contrib

from autotrain_jax.config import CLASSIC_OPTIMIZERS, check_optimizer

# Each name's optax factory of one argument, the learning rate. The classic
# optimizers are optax's with their own defaults (momentum 0.9); `mechanize`
# tunes Adam's scale, as optax's docstring shows it.
_FACTORIES: dict[str, Callable[..., optax.GradientTransformation]] = {
    "sgd": optax.sgd,
    "momentum": lambda learning_rate: optax.sgd(learning_rate, momentum=0.9),
    "nesterov": lambda learning_rate: optax.sgd(
        learning_rate, momentum=0.9, nesterov=True
    ),
    "adam": optax.adam,
    "adamw": optax.adamw,
    "rmsprop": optax.rmsprop,
    "cocob": contrib.cocob,
    "prodigy": contrib.prodigy,
    "dog": contrib.dog,
    "dowg": contrib.dowg,
    "mechanize": lambda learning_rate=1.0: contrib.mechanize(optax.adam(learning_rate)),
    "schedule_free_sgd": contrib.schedule_free_sgd,
    "schedule_free_adamw": contrib.schedule_free_adamw,
}
SCHEDULE_FREE = ("schedule_free_sgd", "schedule_free_adamw")


def base_learning_rate(name: str) -> float:
    """The learning rate the env's LR multiplies: 1 for the classic optimizers
    (so the env's LR is theirs), optax's default for the LR-free ones (so the
    env's LR 1 runs them at their defaults, e.g. 0.0025 for schedule_free_adamw).
    """
    if name in CLASSIC_OPTIMIZERS:
        return 1.0
    default = inspect.signature(_FACTORIES[name]).parameters["learning_rate"].default
    return float(default)


class InnerOptimizer:
    """The optimizer one env trains with: optax's, its step scaled by the env's LR.

    The env's LR is not part of the optimizer state: every update builds the
    optax optimizer with learning rate `lr x base_learning_rate(name)` (optax
    factories are pure closures; building one under trace costs nothing at run
    time). So a rewind, which restores an older state, never restores an older
    LR, and schedule-free's averaged iterate stays consistent with the LR it
    was built with (scaling its updates afterwards would not).

    With several names, the state is the tuple of every member's state, and
    `choice` (a traced int32, the episode's `Task.optimizer`) selects which one
    steps; one program serves them all. Under `vmap` every member's update is
    computed and the chosen one kept, and every env carries every member's
    state. With `member` given, the optimizer is that one member of the set
    alone (its state and program only, `choice` ignored): a batch grouped by
    optimizer (`AutoTrainEnv.batch_groups`) steps each group with its own.

    Args:
      names: one name of `config.OPTIMIZERS`, or a tuple of distinct ones.
      member: None, or the index in `names` of the one member that runs.

    Raises:
      ValueError: naming the field and the allowed names, for any other.
    """

    def __init__(self, names: str | tuple[str, ...], member: int | None = None):
        self.names = check_optimizer(names)
        index = isinstance(member, int) and not isinstance(member, bool)
        if member is not None and not (index and 0 <= member < len(self.names)):
            raise ValueError(
                f"optimizer member must be None or an index in "
                f"range({len(self.names)}) of {self.names}, got {member!r}"
            )
        # the optimizers whose states this one carries
        self._running = self.names if member is None else (self.names[member],)

    def _transform(self, name: str, lr) -> optax.GradientTransformation:
        return _FACTORIES[name](learning_rate=lr * base_learning_rate(name))

    def init(self, weights) -> Any:
        """The state of a fresh run: one member's state, or a tuple of them."""
        states = tuple(
            self._transform(name, 1.0).init(weights) for name in self._running
        )
        return states[0] if len(states) == 1 else states

    def apply(self, grads, state, weights, lr: jax.Array, choice=None):
        """One step at learning rate `lr`; returns `(weights, state)`."""
        if len(self._running) == 1:
            return self._apply_one(self._running[0], grads, state, weights, lr)

        def member(i):
            def step(state):
                weights_i, state_i = self._apply_one(
                    self.names[i], grads, state[i], weights, lr
                )
                return weights_i, (*state[:i], state_i, *state[i + 1 :])

            return step

        branches = [member(i) for i in range(len(self.names))]
        return jax.lax.switch(choice, branches, state)

    def _apply_one(self, name: str, grads, state, weights, lr):
        updates, state = self._transform(name, lr).update(grads, state, weights)
        return optax.apply_updates(weights, updates), state

    def eval_weights(self, state, weights, choice=None):
        """The weights to evaluate: schedule-free's averaged iterate (optax's
        `schedule_free_eval_params`), the trained weights for every other."""
        if not any(name in SCHEDULE_FREE for name in self._running):
            return weights
        if len(self._running) == 1:
            return contrib.schedule_free_eval_params(state, weights)

        def member(name, i):
            if name not in SCHEDULE_FREE:
                return lambda state: weights
            return lambda state: contrib.schedule_free_eval_params(state[i], weights)

        branches = [member(name, i) for i, name in enumerate(self.names)]
        return jax.lax.switch(choice, branches, state)
