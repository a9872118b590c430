"""Environment parameters: the traced numbers (and data) of the AutoTrain MDP."""

from __future__ import annotations

from flax import struct

from autotrain_jax.config import FULL_NUM_FACTORS, REDUCED_NUM_FACTORS
from autotrain_jax.data import Dataset
from autotrain_jax.tasks import is_range

Range = tuple[float, float]


@struct.dataclass
class EnvParams:
    """Numbers an agent or a sweep may vary (traced leaves) and the data.

    `initial_lr`, `max_steps_in_episode`, `train_subset_size` and `label_noise`
    may be `(low, high)` ranges, drawn afresh per episode (see
    `autotrain_jax.tasks`).
    """

    data: Dataset
    initial_lr: float | Range = 0.01
    lr_min: float = 1e-5
    lr_max: float = 1.0
    max_steps_in_episode: int | tuple[int, int] = 40
    train_subset_size: int | tuple[int, int] | None = None  # None: the whole split
    hidden_widths: tuple | None = None  # MLP: per layer a width or (low, high)
    label_noise: float | Range | None = None  # P(a label is replaced); None: clean
    full_lr_factors: tuple[float, ...] = (0.9, 1.0, 1.1)
    reduced_lr_factors: tuple[float, ...] = (1.0, 0.8, 0.2, 1.2, 1.8)
    max_lr_factor: float = 2.0  # continuous, self_play: LR x max_lr_factor ** a0
    max_batch_factor: float = 2.0  # self_play: batch size x max_batch_factor ** a1
    reinit_threshold: float = 0.5  # continuous: re-init if a2 > this
    stop_threshold: float = 0.5  # continuous: stop if a3 > this
    threshold: float = 0.01  # Thresholdout: 4 x tolerance (0.01 / 4)
    threshold_noise: float = 0.02  # std, 8 x tolerance
    answer_noise: float = 0.005  # std, 2 x tolerance
    inter_reward: float = 0.05  # prototype reward: +-this per step
    final_reward_scale: float = 10.0  # episode end: + score x this
    step_cost: float = 1e-3  # step_cost, relative: per inner step at batch_size
    relative_scale: float = 1.0  # relative: x ln(reference loss / loss) per step
    relative_clip: float = 0.5  # relative: the per-step term lies in +-this
    relative_terminal: float = 1.0  # relative: +-this as the score beats or not
    divergence_penalty: float = -10.0  # the reward when training diverges
    max_loss: float = 100.0  # losses are clipped to [0, max_loss] in observations


def check_params(params: EnvParams) -> None:
    """Raises ValueError, naming the field, for out-of-range concrete parameters."""

    def value(name):
        return float(getattr(params, name))

    if not 0.0 < value("lr_min") <= value("lr_max"):
        raise ValueError(
            f"lr bounds must satisfy 0 < lr_min <= lr_max, got lr_min="
            f"{value('lr_min')}, lr_max={value('lr_max')}"
        )
    lr_range = _bounds("initial_lr", params.initial_lr, float)
    if not value("lr_min") <= lr_range[0] <= lr_range[1] <= value("lr_max"):
        raise ValueError(
            f"initial_lr must lie in [lr_min, lr_max] = [{value('lr_min')}, "
            f"{value('lr_max')}], got {params.initial_lr}"
        )
    budget = _bounds("max_steps_in_episode", params.max_steps_in_episode, int)
    if budget[0] < 1:
        raise ValueError(
            f"max_steps_in_episode must be >= 1, got {params.max_steps_in_episode}"
        )
    if params.train_subset_size is not None:
        size = _bounds("train_subset_size", params.train_subset_size, int)
        pool = None if params.data is None else params.data.train_y.shape[0]
        if size[0] < 1 or (pool is not None and size[1] > pool):
            raise ValueError(
                f"train_subset_size must lie in [1, {pool or 'the training split'}]"
                f", got {params.train_subset_size}"
            )
    if params.label_noise is not None:
        noise = _bounds("label_noise", params.label_noise, float)
        if not 0.0 <= noise[0] <= noise[1] <= 1.0:
            raise ValueError(
                f"label_noise must lie in [0, 1], got {params.label_noise}"
            )
    if params.hidden_widths is not None:
        for layer, setting in enumerate(params.hidden_widths):
            low, _ = _bounds(f"hidden_widths[{layer}]", setting, int)
            if low < 1:
                raise ValueError(f"hidden_widths[{layer}] must be >= 1, got {setting}")
    for name, size in (
        ("full_lr_factors", FULL_NUM_FACTORS),
        ("reduced_lr_factors", REDUCED_NUM_FACTORS),
    ):
        factors = getattr(params, name)
        if len(factors) != size or min(float(f) for f in factors) <= 0:
            raise ValueError(f"{name} must be {size} positive factors, got {factors}")
    for name in ("max_lr_factor", "max_batch_factor", "max_loss"):
        if value(name) <= 0:
            raise ValueError(f"{name} must be > 0, got {value(name)}")
    for name in (
        "threshold",
        "threshold_noise",
        "answer_noise",
        "step_cost",
        "relative_scale",
        "relative_clip",
        "relative_terminal",
    ):
        if value(name) < 0:
            raise ValueError(f"{name} must be >= 0, got {value(name)}")


def _bounds(field: str, setting, kind) -> tuple:
    """(low, high) of a fixed value or a range; ValueError for a malformed one."""
    if not is_range(setting):
        return kind(setting), kind(setting)
    if len(setting) != 2 or float(setting[0]) > float(setting[1]):
        raise ValueError(
            f"{field} must be a value or a (low, high) pair with low <= high, "
            f"got {setting!r}"
        )
    if kind is int and any(float(v) != int(v) for v in setting):
        raise ValueError(f"{field} must be integers, got {setting!r}")
    return kind(setting[0]), kind(setting[1])
