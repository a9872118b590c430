"""PPO's hyperparameters, on the agent's lowest floor (the algorithm and the
losses both read them)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class PPOConfig:
    """PPO hyperparameters (PureJaxRL's defaults, adjusted for this env)."""

    num_envs: int = 16
    num_steps: int = 16  # env steps per env per update
    num_updates: int = 40
    update_epochs: int = 4
    num_minibatches: int = 4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    # The value loss is unclipped by default: PPO's value clip (`clip_eps` reused)
    # lets V move only that far per update, while returns here are ~10.
    vf_clip: float | None = None
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    lr: float = 3e-3  # tuned on the tiny preset (3e-4 learned ~3x slower)
    anneal_lr: bool = True
    normalize_obs: bool = True
    hidden: tuple[int, ...] = (64, 64)
    # Step the env batch by the groups the env defines (`autotrain_jax.vector`):
    # for an AutoTrain env with a set of inner optimizers, one program per
    # optimizer, the set spread evenly over the envs instead of drawn per episode.
    group_envs: bool = False

    def __post_init__(self):
        for name in ("num_envs", "num_steps", "num_updates", "update_epochs"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        batch = self.num_envs * self.num_steps
        if not isinstance(self.num_minibatches, int) or self.num_minibatches < 1:
            raise ValueError(
                f"num_minibatches must be >= 1, got {self.num_minibatches}"
            )
        if batch % self.num_minibatches:
            raise ValueError(
                f"num_minibatches ({self.num_minibatches}) must divide num_envs x "
                f"num_steps ({batch})"
            )
        for name in ("gamma", "gae_lambda"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("clip_eps", "lr", "max_grad_norm"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.vf_clip is not None and not self.vf_clip > 0:
            raise ValueError(f"vf_clip must be None or > 0, got {self.vf_clip}")
        for name in ("ent_coef", "vf_coef"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        object.__setattr__(self, "hidden", tuple(self.hidden))
