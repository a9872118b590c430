"""A trained controller for a PyTorch optimizer, shaped like torch's own
`ReduceLROnPlateau`: call it after every update with the loss (and a holdout
accuracy, if you have one), and it sets the `lr` of every param group.

    from autotrain_jax.torch import Steer

    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    steer = Steer(optimizer, budget=30, model=model)  # controllers.DEFAULT
    for x, y in batches:
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if steer.step(loss.item(), score=holdout_accuracy):
            break  # the controller stopped the run

The controller decides every T (`inner_steps`) updates from the same
observation record the env builds (`controllers.steer`, the optax adapter,
computes it: one implementation, on JAX's CPU backend, with scalars only, so
your loop never touches a JAX array). Each param group keeps its own initial
LR, scaled by the controller's LR over the first group's. A rewind restores the
model's and the optimizer's `state_dict`s from the last H blocks (copies kept in
host memory); a re-init calls `reinit(model)` (default: `reset_parameters` of
every module that has one) and clears the optimizer's state; a stop is what
`step` returns. For a controller trained with `observe_update`, the block's
relative weight change is measured over `model.parameters()` (a copy of them
is kept from each block's start).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
import torch

from autotrain_jax import actions, controllers
from autotrain_jax.controllers.steer import decide_block

__all__ = ["Steer", "reset_parameters"]

# torch's optimizers whose kind `Steer` knows: does each scale its step per
# parameter (as `autotrain_jax.config.ADAPTIVE` does for optax's)?
ADAPTIVE = {
    torch.optim.SGD: False,
    torch.optim.Adam: True,
    torch.optim.AdamW: True,
    torch.optim.Adamax: True,
    torch.optim.NAdam: True,
    torch.optim.RAdam: True,
    torch.optim.RMSprop: True,
    torch.optim.Adagrad: True,
}


def reset_parameters(model: torch.nn.Module) -> None:
    """Re-initialises every submodule of `model` that has `reset_parameters`."""
    for module in model.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()


class Steer:
    """Sets a torch optimizer's LRs as a trained controller decides.

    Args:
      optimizer: a `torch.optim.Optimizer` whose param groups each have `lr`.
      controller: a `controllers.Controller`, a shipped name or a run folder.
      budget: the run's length in blocks of T updates (the controller's
        progress input).
      model: the model the optimizer trains, for rewinds and re-inits; without
        it those decisions raise.
      reinit: `model -> None`, re-initialising its weights in place.
      adaptive: whether the optimizer scales its step per parameter, for a
        controller trained with `observe_optimizer` (default: True for
        torch's Adam family and RMSprop, `ADAPTIVE`; False for SGD; else it
        must be given).

    Raises:
      ValueError: for an optimizer without `lr` in a param group, a budget
        below 1, a controller `controllers.steer` cannot follow, or one that
        observes its updates (`observe_update`) without a `model`.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        controller: controllers.Controller | str = controllers.DEFAULT,
        budget: int = 30,
        model: torch.nn.Module | None = None,
        reinit: Callable[[torch.nn.Module], None] = reset_parameters,
        adaptive: bool | None = None,
    ):
        missing = [i for i, g in enumerate(optimizer.param_groups) if "lr" not in g]
        if missing:
            raise ValueError(
                f"optimizer must have an 'lr' in every param group; groups {missing} "
                "have none"
            )
        lrs = [float(g["lr"]) for g in optimizer.param_groups]
        if not all(lr > 0 for lr in lrs):
            raise ValueError(f"every param group's lr must be > 0, got {lrs}")
        if isinstance(controller, str):
            controller = controllers.load(controller)
        if controller.env_config.observe_update and model is None:
            raise ValueError(
                "model is required for a controller trained with "
                "observe_update=True: it watches how far each block moves the weights"
            )
        self.controller = controller
        self.optimizer = optimizer
        self.model = model
        self._reinit = reinit
        self._initial = lrs
        if adaptive is None:
            adaptive = ADAPTIVE.get(type(optimizer))
        transform = controllers.steer(
            controller, initial_lr=lrs[0], budget=budget, adaptive=adaptive
        )
        self._state = transform.init(None)

        def update(state, value, score, train_accuracy, weight_change):
            _, state = transform.update(
                {},
                state,
                value=value,
                score=score,
                train_accuracy=train_accuracy,
                weight_change=weight_change,
            )
            return state

        self._update = jax.jit(update)
        self._config = controller.env_config
        self._budget = budget
        self._count = 0
        self._snapshots = [self._snapshot()] if model is not None else []
        self._watched = controller.env_config.observe_update
        self._start = self._weights() if self._watched else None
        self._set_lrs()

    @property
    def lr(self) -> float:
        """The LR the current block trains with (the first group's): the
        controller's, shaped by its `lr_schedule`."""
        return float(self._block_lr())

    def step(
        self,
        loss: float,
        score: float | None = None,
        train_accuracy: float | None = None,
    ) -> bool:
        """Call once after every optimizer update. `loss` is that update's
        training loss; `score` (a holdout accuracy) and `train_accuracy` are read
        at a block's end when given, else the last ones given are kept. A
        non-finite loss is shown to the controller as the env shows a diverged
        one (`max_loss`); a non-finite score is ignored.

        Returns:
          whether the controller stopped the run.

        Raises:
          ValueError: if `loss`, `score` or `train_accuracy` is not a number.
        """
        value = _number("loss", loss)
        score = math.nan if score is None else _number("score", score)
        accuracy = score if train_accuracy is None else train_accuracy
        accuracy = _number("train_accuracy", accuracy)
        self._count += 1
        ends = self._count % self._config.inner_steps == 0
        change = self._weight_change() if ends and self._watched else math.nan
        self._state = self._update(self._state, value, score, accuracy, change)
        if not ends:
            return False
        stop = self._end_block()
        if self._watched:
            self._start = self._weights()
        return stop

    def _end_block(self) -> bool:
        control = jax.device_get(self._state.control)
        if self.model is None:
            if not control.stop and (control.reinit or control.rewind):
                raise ValueError(
                    "the controller rewound or re-initialised: pass Steer(..., "
                    "model=model) so that it can"
                )
            self._set_lrs()
            return bool(control.stop)
        decision = decide_block(
            self._snapshots, self._snapshot(), control, self._config
        )
        self._snapshots = decision.snapshots
        if decision.restore is not None:
            model_state, optimizer_state = decision.restore
            self.model.load_state_dict(model_state)
            self.optimizer.load_state_dict(optimizer_state)
        if decision.stop:
            return True
        if decision.reinit:
            self._reinit(self.model)
            self.optimizer.state.clear()
            self._snapshots = [self._snapshot()]
        self._set_lrs()
        return False

    def _weights(self) -> list[torch.Tensor]:
        return [p.detach().clone() for p in self.model.parameters()]

    def _weight_change(self) -> float:
        """|w - w_start| / |w_start| over the model's parameters (global L2
        norms, as `observation.relative_change`); 0 if not finite."""
        now = self._weights()
        moved = math.sqrt(
            sum(
                float((a - b).square().sum())
                for a, b in zip(now, self._start, strict=True)
            )
        )
        size = math.sqrt(sum(float(b.square().sum()) for b in self._start))
        change = moved / max(size, 1e-12)
        return change if math.isfinite(change) else 0.0

    def _snapshot(self) -> tuple[dict, dict]:
        return (
            copy.deepcopy(self.model.state_dict()),
            copy.deepcopy(self.optimizer.state_dict()),
        )

    def _block_lr(self):
        state = self._state
        return actions.block_lr(self._config, state.lr, state.time, self._budget)

    def _set_lrs(self) -> None:
        scale = float(self._block_lr()) / self._initial[0]
        for group, initial in zip(
            self.optimizer.param_groups, self._initial, strict=True
        ):
            group["lr"] = initial * scale


def _number(name: str, value: Any) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(
                f"{name} must be a scalar, got a tensor of shape {tuple(value.shape)}"
            )
        value = value.item()
    try:
        return float(np.float32(value))
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
