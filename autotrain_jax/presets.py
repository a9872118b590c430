"""Named presets and `make_env`, the one-line way to build an environment."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from gymnax import registration

from autotrain_jax.config import LR_FREE_OPTIMIZERS, EnvConfig
from autotrain_jax.data import SOURCES, Dataset, check_size, combine, load_dataset
from autotrain_jax.env import AutoTrainEnv
from autotrain_jax.params import EnvParams, check_params
from autotrain_jax.tasks import is_range, upper

DATASETS = ("mnist", "cifar10", "notmnist")
ALIASES = {"H": "history", "T": "inner_steps", "S": "loss_every"}
_CONFIG_FIELDS = {f.name for f in dataclasses.fields(EnvConfig)}
_PARAM_FIELDS = {f.name for f in dataclasses.fields(EnvParams)} - {"data"}
DATA_FIELDS = {"dataset", "data_dir", "source", "train_size", "holdout_size", "seed"}
# The env's LR of an LR-free optimizer is a factor on its default step: 1 runs it
# at its defaults; the preset's LRs belong to its own (classic) optimizer.
LR_FREE_LR = {"initial_lr": 1.0, "lr_max": 10.0}


@dataclasses.dataclass(frozen=True)
class Preset:
    """A named setup: `EnvConfig` and `EnvParams` fields and the data to load."""

    description: str
    dataset: str
    config: dict[str, Any]
    params: dict[str, Any]
    train_size: int | float = 0.2
    holdout_size: int | float = 0.1


PRESETS: dict[str, Preset] = {
    "mnist-mlp": Preset(
        "MNIST, MLP 784-128-64-10, momentum SGD (0.9) from LR 0.01, T=50, S=10, H=5",
        dataset="mnist",
        config=dict(model="mlp", hidden=(128, 64), optimizer="momentum"),
        params=dict(initial_lr=0.01, max_steps_in_episode=40),
    ),
    "cifar10-cnn": Preset(
        "CIFAR-10, CNN conv16-conv32-dense10, Adam from LR 1e-3, T=50, S=10, H=5",
        dataset="cifar10",
        config=dict(model="cnn", hidden=(16, 32), optimizer="adam"),
        params=dict(initial_lr=1e-3, lr_max=0.1, max_steps_in_episode=40),
    ),
    "tiny": Preset(
        "tests and smoke runs: MNIST (512 train / 256 holdout), MLP 784-32-10, "
        "T=10, S=5, H=3, 8-step episodes",
        dataset="mnist",
        config=dict(
            hidden=(32,),
            history=3,
            inner_steps=10,
            loss_every=5,
            batch_size=32,
            eval_batch_size=64,
        ),
        params=dict(initial_lr=0.01, max_steps_in_episode=8),
        train_size=512,
        holdout_size=256,
    ),
}


def registered_envs() -> tuple[str, ...]:
    """Names accepted by `make_env`."""
    return tuple(PRESETS)


def make_env(
    name: str = "mnist-mlp", data: Dataset | None = None, **overrides
) -> tuple[AutoTrainEnv, EnvParams]:
    """Builds a preset environment and its default parameters.

    Args:
      name: one of `registered_envs()`.
      data: a ready `Dataset` (e.g. from `from_arrays`); loaded when omitted.
      **overrides: any `EnvConfig` field (H, T, S are aliases of history,
        inner_steps, loss_every), any `EnvParams` field, or a data setting:
        dataset, data_dir, source, train_size, holdout_size, seed.
        `initial_lr`, `max_steps_in_episode` and `train_size` may be given as a
        `(low, high)` range, drawn afresh per episode (`autotrain_jax.tasks`);
        a `train_size` range loads `high` examples and trains each episode on a
        random subset of them. So may MLP widths: `hidden=((16, 128), 64)`
        builds 128 units masked down to a drawn 16..128 per episode. A tuple
        of datasets of one image shape, e.g. `dataset=("mnist", "notmnist")`,
        draws one of them per episode. So may `optimizer`, a tuple of optax
        names (`config.OPTIMIZERS`); if all of them are LR-free, the env's LR is
        a factor on their default step, and `initial_lr` and `lr_max` default
        to `LR_FREE_LR` (1 and 10) rather than the preset's.

    Raises:
      ValueError: naming the field, for any invalid setting, before compiling.
    """
    if name not in PRESETS:
        raise ValueError(f"name must be one of {registered_envs()}, got {name!r}")
    preset = PRESETS[name]
    overrides = {ALIASES.get(k, k): v for k, v in overrides.items()}
    unknown = set(overrides) - _CONFIG_FIELDS - _PARAM_FIELDS - DATA_FIELDS
    if unknown:
        allowed = sorted(_CONFIG_FIELDS | _PARAM_FIELDS | DATA_FIELDS | set(ALIASES))
        raise ValueError(f"unknown settings {sorted(unknown)}; allowed: {allowed}")
    overrides = {
        k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()
    }
    hidden = overrides.get("hidden", ())
    if isinstance(hidden, tuple) and any(is_range(w) for w in hidden):
        widths = tuple(tuple(w) if is_range(w) else w for w in hidden)
        overrides["hidden_widths"] = widths
        overrides["hidden"] = tuple(upper(w) for w in widths)
    config = EnvConfig(**{**preset.config, **_pick(overrides, _CONFIG_FIELDS)})
    settings = {**preset.params, **_pick(overrides, _PARAM_FIELDS)}
    if all(name in LR_FREE_OPTIMIZERS for name in config.optimizer_names):
        settings |= {k: v for k, v in LR_FREE_LR.items() if k not in overrides}
    config.check_hidden_widths(settings.get("hidden_widths"))
    data_settings = _pick(overrides, DATA_FIELDS)
    if is_range(data_settings.get("train_size")):  # a pool, sampled per episode
        settings["train_subset_size"] = data_settings["train_size"]
        data_settings["train_size"] = upper(data_settings["train_size"])
    check_params(EnvParams(data=None, **settings))  # fail fast, before loading data
    _check_data_settings(preset, data_settings)
    if data is None:
        data = _load(preset, data_settings)
    params = EnvParams(data=data, **settings)
    return AutoTrainEnv(config, params), params


def _pick(settings: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    return {k: v for k, v in settings.items() if k in fields}


def _check_data_settings(preset: Preset, settings: dict[str, Any]) -> None:
    """The data settings' errors, raised before anything is read."""
    dataset = settings.get("dataset", preset.dataset)
    names = dataset if isinstance(dataset, tuple) else (dataset,)
    if not names or any(name not in DATASETS for name in names):
        raise ValueError(
            f"dataset must be one of {DATASETS} or a tuple of them, got {dataset!r}"
        )
    if settings.get("source", "auto") not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {settings['source']!r}")
    for field in ("train_size", "holdout_size"):
        check_size(field, settings.get(field, getattr(preset, field)))


def _load(preset: Preset, settings: dict[str, Any]) -> Dataset:
    dataset = settings.pop("dataset", preset.dataset)
    names = dataset if isinstance(dataset, tuple) else (dataset,)
    settings.setdefault("train_size", preset.train_size)
    settings.setdefault("holdout_size", preset.holdout_size)
    data_dir = settings.pop("data_dir", None)
    loaded = [load_dataset(name, data_dir, **settings) for name in names]
    return loaded[0] if len(loaded) == 1 else combine(loaded)


def gymnax_id(name: str) -> str:
    """The id under which preset `name` is registered with gymnax."""
    return f"AutoTrain-{name}-v0"


def _make_for_gymnax(name: str, **overrides) -> AutoTrainEnv:
    env, _ = make_env(name, **overrides)
    return env  # gymnax.make returns it with env.default_params (the same params)


def register_with_gymnax() -> None:
    """Registers every preset with gymnax's registry (done on import), so that
    `gymnax.make("AutoTrain-tiny-v0", **overrides)` returns `(env, params)`."""
    for name in PRESETS:
        if gymnax_id(name) not in registration.registered_envs:
            registration.register(
                gymnax_id(name), functools.partial(_make_for_gymnax, name)
            )
