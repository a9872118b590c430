"""Trained controllers: the ones shipped in the package, or any training run.

    from autotrain_jax import controllers

    controllers.available()                       # names of the shipped ones
    controller = controllers.load(name_or_run_folder)
    env, params = controller.make_env(dataset="notmnist", data_dir="data")
    action = controller.policy(key, obs)          # greedy, jit- and vmap-able
    controller.without("stop")                    # the same, never stopping
    controllers.ensemble([load(a), load(b), load(c)])  # one recipe's seeds, pooled

    optimizer = optax.chain(optax.sgd(lr), controllers.steer(controller, lr, budget))

A controller is the PPO agent's weights, its observation normaliser, and the
`make_env` settings it was trained with (`controller.json` + `policy.npz`,
about 100 KB). `make_env` rebuilds that env; overrides change the task (data,
initial LR, budget, model) but not what the agent sees or does: the
observation's shape and the action set must stay those it was trained for.
Meta-training's augmentations (`AUGMENTATIONS`: label noise) corrupt the data
on purpose, so `make_env` leaves them out unless asked (`augmented=True`).
`steer` and `Steering` put a controller into your own optax training loop
(see `controllers.steer`). An ensemble of one recipe's PPO seeds is one
controller that acts on their mean action probabilities (`ensemble`).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import zipfile
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

import autotrain_jax as at
from autotrain_jax import actions
from autotrain_jax.agents.ppo import PPOConfig, RunningStats, networks
from autotrain_jax.config import LR_FREE_OPTIMIZERS
from autotrain_jax.controllers.steer import Steering, SteerState, steer
from autotrain_jax.presets import DATA_FIELDS

__all__ = [
    "DEFAULT",
    "Controller",
    "SteerState",
    "Steering",
    "as_settings",
    "available",
    "ensemble",
    "load",
    "steer",
]

SHIPPED = pathlib.Path(__file__).parent
DEFAULT = "meta-mix-v4-nostop"  # the controller to use (see the README's results)
AUGMENTATIONS = ("label_noise",)  # training settings that alter the user's data
_FILES = ("controller.json", "policy.npz")


def available() -> tuple[str, ...]:
    """Names of the controllers shipped in the package, for `load`."""
    return tuple(sorted(p.name for p in SHIPPED.iterdir() if (p / _FILES[0]).is_file()))


@dataclasses.dataclass(frozen=True)
class Controller:
    """A trained PPO controller and the env settings it was trained with."""

    preset: str
    settings: Mapping[str, Any]  # make_env overrides of its training run
    env_config: at.EnvConfig  # the env it was trained on
    ppo_config: PPOConfig
    agent_params: Any
    obs_stats: RunningStats
    provenance: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    disabled: tuple[str, ...] = ()  # special actions its policy never takes
    # 1: one agent; K > 1: an ensemble (`ensemble`), agent_params and obs_stats
    # stacked over K agents on a leading axis
    members: int = 1

    @property
    def runs(self) -> list[Mapping[str, Any]]:
        """The provenance of each PPO run it was trained by: its own, or its
        members' if it is an ensemble (`ensemble`), in order."""
        return list(self.provenance.get("ensemble_of", [self.provenance]))

    @property
    def steers(self) -> str | None:
        """The LR-free optax optimizer this controller was trained to steer, if
        its training used one alone (its LR then multiplies the optimizer's
        default LR, `optimizers.base_learning_rate`), else None."""
        name = self.settings.get("optimizer")
        return name if name in LR_FREE_OPTIMIZERS else None

    def without(self, *names: str) -> Controller:
        """This controller with the special actions `names` (of
        `actions.SPECIAL_ACTIONS`: "reinit", "stop") taken out of its policy:
        in the discrete sets the greedy action is the best of the others, in
        the box sets the action's component that raises them is held at -1.
        One exception: a re-init chosen before the first record (the all-zero
        observation of an episode's start) is a keep, since there a re-init
        only draws weights as fresh as those the run has; the best of the
        others would be a move the policy never chose there.

        Raises:
          ValueError: if a name is not a special action.
        """
        for name in names:
            actions.special_slot(self.env_config, name)  # checks the name
        disabled = tuple(sorted({*self.disabled, *names}))
        return dataclasses.replace(self, disabled=disabled)

    def make_env(self, *, augmented: bool = False, **overrides):
        """`(env, params)` with the training settings, `overrides` on top; the
        data augmentations of its training (`AUGMENTATIONS`) only if `augmented`
        (its exact training distribution), so that a user's labels stay theirs.
        Given `data=`, a ready Dataset, the training's data settings (dataset,
        sizes and their per-episode ranges) are left out: the data is yours.

        Raises:
          ValueError: if the overrides change the observation's shape or the
            action set, which the agent's network is fixed to.
        """
        settings = self.task_settings(augmented)
        if "data" in overrides:  # the user's data wins over the training's
            settings = {k: v for k, v in settings.items() if k not in DATA_FIELDS}
        env, params = at.make_env(self.preset, **{**settings, **overrides})
        self.check_env(env)
        return env, params

    def task_settings(self, augmented: bool = False) -> dict[str, Any]:
        """The `make_env` settings of its training, without the data
        augmentations (`AUGMENTATIONS`) unless `augmented`."""
        return {
            k: v
            for k, v in self.settings.items()
            if augmented or k not in AUGMENTATIONS
        }

    def check_env(self, env) -> None:
        """Raises a ValueError, naming each differing setting with both values,
        unless `env` shows the agent what it was trained to read (observation
        kind, H, T, S, the task features, record size) and takes its action set."""
        fields = (
            "observation",
            "history",
            "inner_steps",
            "loss_every",
            "observe_task",
            "observe_update",
            "observe_optimizer",
            "record_size",
            "action_set",
        )
        differ = {
            f: (getattr(self.env_config, f), getattr(env.config, f))
            for f in fields
            if getattr(self.env_config, f) != getattr(env.config, f)
        }
        if differ:
            listed = ", ".join(
                f"{f}: {a!r} (trained), {b!r} (env)" for f, (a, b) in differ.items()
            )
            raise ValueError(
                f"env must show the controller what it was trained on; {listed}"
            )

    def outputs(self, obs: jax.Array) -> networks.PolicyOutput:
        """The agent's network on one observation [H, F] or a batch [..., H, F],
        normalised as in training: the actor head (logits, or the box's means)
        with the disabled actions taken out, the log std and the value."""
        return self._masked(self._network(obs), self.disabled)

    def policy(self, key: jax.Array, obs: jax.Array) -> jax.Array:
        """The greedy action for one observation [H, F] or a batch [..., H, F]
        (`key` unused: the policy is deterministic)."""
        continuous = actions.is_box(self.env_config)
        out = self._network(obs)
        action = networks.greedy(self._masked(out, self.disabled), continuous)
        if continuous or "reinit" not in self.disabled:
            return action
        others = [name for name in self.disabled if name != "reinit"]
        reinit = actions.special_slot(self.env_config, "reinit")
        wanted = networks.greedy(self._masked(out, others), continuous) == reinit
        start = ~jnp.any(obs != 0, axis=(-2, -1))  # no record yet (see `without`)
        return jnp.where(wanted & start, actions.keep(self.env_config), action)

    def _network(self, obs: jax.Array) -> networks.PolicyOutput:
        continuous = actions.is_box(self.env_config)
        network = networks.ActorCritic(
            actions.num_actions(self.env_config), continuous, self.ppo_config.hidden
        )

        def one(agent_params, obs_stats):
            seen = obs_stats.normalize(obs) if self.ppo_config.normalize_obs else obs
            return network.apply(agent_params, seen)

        if self.members == 1:
            return one(self.agent_params, self.obs_stats)
        outs = jax.vmap(one)(self.agent_params, self.obs_stats)
        if continuous:  # the mean of the members' Gaussian means
            actor = outs.actor.mean(0)
        else:  # the log of the members' mean probabilities
            log_p = jax.nn.log_softmax(outs.actor)
            actor = jax.nn.logsumexp(log_p, axis=0) - jnp.log(self.members)
        return networks.PolicyOutput(actor, outs.log_std.mean(0), outs.value.mean(0))

    def _masked(self, out: networks.PolicyOutput, names) -> networks.PolicyOutput:
        """`out` with the special actions `names` taken out of the actor head."""
        if not names:
            return out
        slots = jnp.array([actions.special_slot(self.env_config, n) for n in names])
        lowest = -1.0 if actions.is_box(self.env_config) else -jnp.inf  # box floor
        return out._replace(actor=out.actor.at[..., slots].set(lowest))

    def save(self, folder: str | pathlib.Path) -> pathlib.Path:
        """Writes `controller.json` and `policy.npz` into `folder`."""
        folder = pathlib.Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {
            "preset": self.preset,
            "settings": dict(self.settings),
            "env_config": dataclasses.asdict(self.env_config),
            "ppo": dataclasses.asdict(self.ppo_config),
            "provenance": dict(self.provenance),
            "disabled": list(self.disabled),
            "members": self.members,
        }
        (folder / _FILES[0]).write_text(json.dumps(meta, indent=2))
        flat = traverse_util.flatten_dict(self.agent_params, sep="/")
        arrays = {f"agent/{k}": np.asarray(v) for k, v in flat.items()}
        stats = self.obs_stats._asdict()
        arrays |= {f"obs_stats/{k}": np.asarray(v) for k, v in stats.items()}
        np.savez(folder / _FILES[1], **arrays)
        return folder


def load(name: str | pathlib.Path) -> Controller:
    """A shipped controller by name (see `available`), or a folder holding
    `controller.json` and `policy.npz` (every training run writes them).

    Raises:
      ValueError: if `name` is neither; naming the folder and its files if
        they are damaged (truncated, bad JSON, a missing key) or `disabled`
        names an action that is not special.
    """
    folder = SHIPPED / str(name)
    if not (folder / _FILES[0]).is_file():
        folder = pathlib.Path(name)
    if not all((folder / f).is_file() for f in _FILES):
        raise ValueError(
            f"name must be one of {available()} or a folder with {' and '.join(_FILES)}"
            f", got {str(name)!r}"
        )
    try:
        return _read(folder)
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"controller folder {str(folder)!r} is damaged: {_FILES[0]} or "
            f"{_FILES[1]} cannot be read ({type(error).__name__}: {error})"
        ) from error


def _read(folder: pathlib.Path) -> Controller:
    try:
        meta = json.loads((folder / _FILES[0]).read_text())
    except ValueError as error:
        raise ValueError(f"{_FILES[0]} is not valid JSON: {error}") from None
    with np.load(folder / _FILES[1]) as arrays:
        agent, stats = {}, {}
        for name in arrays.files:
            group, _, key = name.partition("/")
            (agent if group == "agent" else stats)[key] = arrays[name]
    return Controller(
        preset=meta["preset"],
        settings=as_settings(meta["settings"]),
        env_config=at.EnvConfig(**as_settings(meta["env_config"])),
        ppo_config=PPOConfig(**as_settings(meta["ppo"])),
        agent_params=traverse_util.unflatten_dict(agent, sep="/"),
        obs_stats=RunningStats(**stats),
        provenance=meta["provenance"],
        members=meta.get("members", 1),
    ).without(*meta.get("disabled", ()))  # checks the names


def ensemble(
    members: list[Controller], provenance: Mapping[str, Any] | None = None
) -> Controller:
    """One controller from several of one recipe (its PPO seeds): each step
    every member's network reads the observation, normalised by its own
    statistics, and the ensemble acts greedily on their mean action
    probabilities (a box policy: on their mean action). One seed's quirks,
    such as a move it alone makes, are outvoted. The members' weights are
    stacked, so the ensemble is jit- and vmap-able as one controller is, and
    `save` and `load` keep it whole. Its provenance: `provenance`, default
    the members' own, in order.

    Raises:
      ValueError: if there are fewer than 2 members, a member is an ensemble,
        or the members differ in a training setting (named) or disabled actions.
    """
    if len(members) < 2 or any(m.members != 1 for m in members):
        raise ValueError(
            f"members must be 2 or more single controllers, got {len(members)} "
            f"with member counts {[m.members for m in members]}"
        )
    first = members[0]
    for field in ("preset", "settings", "env_config", "ppo_config", "disabled"):
        values = [getattr(m, field) for m in members]
        if any(v != values[0] for v in values):
            raise ValueError(
                f"members must share their {field} (one recipe's seeds), got {values}"
            )
    stacked = jax.tree.map(
        lambda *leaves: jnp.stack(leaves),
        *[(m.agent_params, m.obs_stats) for m in members],
    )
    if provenance is None:
        provenance = {"ensemble_of": [dict(m.provenance) for m in members]}
    return dataclasses.replace(
        first,
        agent_params=stacked[0],
        obs_stats=stacked[1],
        provenance=provenance,
        members=len(members),
    )


def as_settings(value):
    """JSON lists back to the tuples `make_env` and the configs take (ranges,
    widths, layer sizes)."""
    if isinstance(value, dict):
        return {k: as_settings(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(as_settings(v) for v in value)
    return value
