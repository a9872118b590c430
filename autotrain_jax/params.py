"""Environment parameters: the traced numbers (and data) of the AutoTrain MDP."""

from __future__ import annotations

from flax import struct

from autotrain_jax.data import Dataset


@struct.dataclass
class EnvParams:
    """Numbers an agent or a sweep may vary (traced leaves) and the data."""

    data: Dataset
    initial_lr: float = 0.01
    lr_min: float = 1e-5
    lr_max: float = 1.0
    max_steps_in_episode: int = 40
    full_lr_factors: tuple[float, ...] = (0.9, 1.0, 1.1)
    reduced_lr_factors: tuple[float, ...] = (1.0, 0.8, 0.2, 1.2, 1.8)
    max_lr_factor: float = 2.0  # continuous: LR x max_lr_factor ** a0
    reinit_threshold: float = 0.5  # continuous: re-init if a2 > this
    stop_threshold: float = 0.5  # continuous: stop if a3 > this
    threshold: float = 0.01  # Thresholdout: 4 x tolerance (0.01 / 4)
    threshold_noise: float = 0.02  # std, 8 x tolerance
    answer_noise: float = 0.005  # std, 2 x tolerance
    inter_reward: float = 0.05  # prototype reward: +-this per step
    final_reward_scale: float = 10.0  # episode end: + score x this
    step_cost: float = 1e-3  # step_cost reward: per inner optimizer step
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
    if not value("lr_min") <= value("initial_lr") <= value("lr_max"):
        raise ValueError(
            f"initial_lr must lie in [lr_min, lr_max] = [{value('lr_min')}, "
            f"{value('lr_max')}], got {value('initial_lr')}"
        )
    if int(params.max_steps_in_episode) < 1:
        raise ValueError(
            f"max_steps_in_episode must be >= 1, got {params.max_steps_in_episode}"
        )
    for name, size in (("full_lr_factors", 3), ("reduced_lr_factors", 5)):
        factors = getattr(params, name)
        if len(factors) != size or min(float(f) for f in factors) <= 0:
            raise ValueError(f"{name} must be {size} positive factors, got {factors}")
    for name in ("max_lr_factor", "max_loss"):
        if value(name) <= 0:
            raise ValueError(f"{name} must be > 0, got {value(name)}")
    for name in ("threshold", "threshold_noise", "answer_noise", "step_cost"):
        if value(name) < 0:
            raise ValueError(f"{name} must be >= 0, got {value(name)}")
