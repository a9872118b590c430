"""Static, shape-defining environment configuration, validated eagerly."""

from __future__ import annotations

import dataclasses

from autotrain_jax.tasks import upper

MODELS = ("mlp", "cnn")
CLASSIC_OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop")
LR_FREE_OPTIMIZERS = (
    "cocob",
    "prodigy",
    "dog",
    "dowg",
    "mechanize",
    "schedule_free_sgd",
    "schedule_free_adamw",
)
OPTIMIZERS = CLASSIC_OPTIMIZERS + LR_FREE_OPTIMIZERS
# Those that scale their step per parameter by its gradients' history (Adam's
# family and cocob's coin betting), against SGD's family (dog and dowg scale
# one global step).
ADAPTIVE = (
    "adam",
    "adamw",
    "rmsprop",
    "cocob",
    "prodigy",
    "mechanize",
    "schedule_free_adamw",
)
ACTION_SETS = ("full", "reduced", "continuous", "self_play")
FULL_NUM_FACTORS = 3  # full_lr_factors: ids f * H + r for f < 3
REDUCED_NUM_FACTORS = 5  # reduced_lr_factors: ids 0..4
REWARDS = ("prototype", "step_cost", "delta", "relative")
OBSERVATIONS = ("original", "extended", "scale_free")
REWIND_PAST_OLDEST = ("oldest", "reinit")
LR_SCHEDULES = ("constant", "cosine")


def _check_choice(field: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{field} must be one of {allowed}, got {value!r}")


def check_optimizer(value) -> tuple[str, ...]:
    """The optimizer names of `value` (a name or a non-empty tuple of distinct
    names); ValueError naming the field and the allowed names otherwise."""
    names = (value,) if isinstance(value, str) else value
    if (
        not isinstance(names, tuple | list)
        or not names
        or any(name not in OPTIMIZERS for name in names)
        or len(set(names)) != len(names)
    ):
        raise ValueError(
            f"optimizer must be one of {OPTIMIZERS} or a tuple of distinct ones, "
            f"got {value!r}"
        )
    return tuple(names)


def _check_positive_int(field: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{field} must be an integer >= 1, got {value!r}")


@dataclasses.dataclass(frozen=True)
class EnvConfig:
    """Settings that fix array shapes or program structure (hashable, static to jit).

    Numbers an agent or a sweep may vary live in `EnvParams` instead.

    Attributes:
      model: classifier architecture, one of `MODELS`.
      hidden: hidden layer widths of the MLP, or conv channels of the CNN.
      optimizer: inner optimizer, one of `OPTIMIZERS` (optax's, by name; see
        `autotrain_jax.optimizers`), or a tuple of them, one drawn uniformly per
        episode (`Task.optimizer`). The env's LR multiplies the step: it is the
        LR of the classic ones, and a factor on the default LR of the LR-free
        ones (1 runs them at their defaults).
      history: H, records in the observation and slots in the weight history.
      inner_steps: T, inner optimizer steps per environment step.
      loss_every: S, inner steps per sampled loss; K = T // S losses per record.
      batch_size: inner minibatch size (the initial one under `self_play`).
      batch_size_min, batch_size_max: the range `self_play` scales the batch
        size within (default batch_size // 4 and 2 x batch_size); every inner
        step draws batch_size_max examples and weights the loss over the first
        b, so shapes stay static. Other action sets keep batch_size.
      eval_batch_size: samples of the training subset and of the holdout scored
        per environment step by Thresholdout.
      action_set: one of `ACTION_SETS`.
      reward: one of `REWARDS`; `relative` also trains a constant-LR reference
        run beside the controlled one (twice the inner training).
      observation: `original` records [K losses, lr, score]; `extended` appends
        [log10 lr, train-subset accuracy, fraction of the budget used];
        `scale_free` records [K log(loss / the episode's first loss), log10 lr,
        score, train-subset accuracy, fraction of the budget used], comparable
        across tasks whose losses and LRs differ by orders of magnitude.
      observe_task: append [log10 budget, log10 training-subset size] of the
        episode's task (see `autotrain_jax.tasks`) to every record. Under the
        `self_play` action set every record also holds log2(batch size /
        batch_size), before the task features.
      observe_update: append log10 of the block's relative weight change,
        |w_after - w_before| / |w_before| (0 when the block diverged: shown
        as -8), to every record: how far the step moved the weights,
        whatever the optimizer and its LR scale (the quantity DoG-style
        LR-free optimizers measure).
      observe_optimizer: append 1 to every record if the episode's inner
        optimizer scales its step per parameter (Adam-like, `ADAPTIVE`), else
        0 (SGD-like): the LR scale the optimizer lives on, which the LR alone
        does not tell (1e-2 is high for Adam and low for SGD).
      rewind_past_oldest: what a rewind past the oldest saved weights does:
        `oldest` restores the oldest entry, `reinit` re-initialises (the prototype).
      warm_start: fill the history at reset with H - 1 records, each from a fresh
        initialisation (cycling through the init methods) trained for T steps.
      lr_schedule: the shape the controlled LR is applied with, one of
        `LR_SCHEDULES`: `constant` trains each block at the LR; `cosine` at the
        LR times the tuned-cosine baseline's fraction for the block
        (`actions.block_lr`: 1 on the episode's first block, falling to 1% of
        it after the budget), so the controller sets the level and the
        schedule anneals it. The observation shows the LR, not the product.
    """

    model: str = "mlp"
    hidden: tuple[int, ...] = (128, 64)
    optimizer: str | tuple[str, ...] = "momentum"
    history: int = 5
    inner_steps: int = 50
    loss_every: int = 10
    batch_size: int = 64
    batch_size_min: int | None = None
    batch_size_max: int | None = None
    eval_batch_size: int = 256
    action_set: str = "full"
    reward: str = "prototype"
    observation: str = "original"
    rewind_past_oldest: str = "oldest"
    warm_start: bool = False
    observe_task: bool = False
    observe_update: bool = False
    observe_optimizer: bool = False
    lr_schedule: str = "constant"

    def __post_init__(self):
        _check_choice("model", self.model, MODELS)
        names = check_optimizer(self.optimizer)
        if not isinstance(self.optimizer, str):
            object.__setattr__(self, "optimizer", names)
        _check_choice("action_set", self.action_set, ACTION_SETS)
        _check_choice("reward", self.reward, REWARDS)
        _check_choice("observation", self.observation, OBSERVATIONS)
        _check_choice("rewind_past_oldest", self.rewind_past_oldest, REWIND_PAST_OLDEST)
        _check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        object.__setattr__(self, "hidden", tuple(self.hidden))
        if not self.hidden:
            raise ValueError("hidden must list at least one width, got ()")
        for width in self.hidden:
            _check_positive_int("hidden", width)
        for field in (
            "history",
            "inner_steps",
            "loss_every",
            "batch_size",
            "eval_batch_size",
        ):
            _check_positive_int(field, getattr(self, field))
        self._check_batch_range()
        if self.inner_steps % self.loss_every:
            raise ValueError(
                f"inner_steps (T={self.inner_steps}) must be a multiple of "
                f"loss_every (S={self.loss_every})"
            )
        for field in (
            "warm_start",
            "observe_task",
            "observe_update",
            "observe_optimizer",
        ):
            if not isinstance(getattr(self, field), bool):
                raise ValueError(
                    f"{field} must be a bool, got {getattr(self, field)!r}"
                )

    @property
    def batch_range(self) -> tuple[int, int]:
        """(min, max) batch size: `self_play` scales within it; else batch_size."""
        if self.action_set != "self_play":
            return self.batch_size, self.batch_size
        low = self.batch_size_min or max(1, self.batch_size // 4)
        return low, self.batch_size_max or 2 * self.batch_size

    def _check_batch_range(self) -> None:
        for field in ("batch_size_min", "batch_size_max"):
            if getattr(self, field) is not None:
                _check_positive_int(field, getattr(self, field))
        low, high = self.batch_range
        if not low <= self.batch_size <= high:
            raise ValueError(
                f"batch_size_min <= batch_size <= batch_size_max must hold, got "
                f"{low} <= {self.batch_size} <= {high}"
            )

    def check_hidden_widths(self, hidden_widths) -> None:
        """Raises ValueError unless `hidden_widths` (EnvParams) fits this config:
        an MLP, one width or (low, high) per hidden layer, within its width."""
        if hidden_widths is None:
            return
        if self.model != "mlp" or len(hidden_widths) != len(self.hidden):
            raise ValueError(
                f"hidden_widths needs model='mlp' and one entry per hidden layer "
                f"{self.hidden}, got {hidden_widths!r} for model={self.model!r}"
            )
        for layer, (setting, width) in enumerate(
            zip(hidden_widths, self.hidden, strict=True)
        ):
            if upper(setting) > width:
                raise ValueError(
                    f"hidden_widths[{layer}] must not exceed hidden[{layer}]="
                    f"{width}, got {setting!r}"
                )

    @property
    def optimizer_names(self) -> tuple[str, ...]:
        """The inner optimizer's name, or the names drawn from, as a tuple."""
        return check_optimizer(self.optimizer)

    @property
    def num_losses(self) -> int:
        """K, the training losses sampled per environment step."""
        return self.inner_steps // self.loss_every

    @property
    def record_size(self) -> int:
        """Features per observation record."""
        extra = {"original": 2, "extended": 5, "scale_free": 4}[self.observation]
        batch = 1 if self.action_set == "self_play" else 0  # log2 batch-size ratio
        task = 2 if self.observe_task else 0
        watched = int(self.observe_update) + int(self.observe_optimizer)
        return self.num_losses + extra + batch + task + watched

    @property
    def adaptive(self) -> tuple[bool, ...]:
        """Per optimizer name (`optimizer_names`): does it scale its step per
        parameter (`ADAPTIVE`)?"""
        return tuple(name in ADAPTIVE for name in self.optimizer_names)
