"""`rollout` logs turned into the prototype's MDP log (CSV) and plots (PNG)."""

from __future__ import annotations

import csv
import os

import jax
import numpy as np

from autotrain_jax.actions import control_name

LOG_FIELDS = ("t", "score", "reward", "action", "inner_steps", "lr")


def episode_rows(log: dict[str, jax.Array]) -> list[dict]:
    """The prototype's log rows (t, score, reward, action, inner_steps, lr)."""
    log = jax.device_get(log)
    rows = []
    for t in np.flatnonzero(log["alive"]):
        action = control_name(
            float(log["lr_factor"][t]),
            int(log["rewind"][t]),
            bool(log["reinit"][t]),
            bool(log["stop"][t]),
        )
        rows.append(
            {
                "t": int(t),
                "score": float(log["score"][t]),
                "reward": float(log["reward"][t]),
                "action": action,
                "inner_steps": int(log["inner_steps"][t]),
                "lr": float(log["lr"][t]),
            }
        )
    return rows


def _plot_actions(ax, log, alive, t) -> None:
    """LR factor and rewind per step, with re-init and stop marked."""
    ax.step(t, np.asarray(log["lr_factor"])[alive], where="mid", label="LR factor")
    ax.plot(t, np.asarray(log["rewind"])[alive], "s", label="rewind")
    for name, marker in (("reinit", "^"), ("stop", "x")):
        chosen = np.asarray(log[name])[alive]
        ax.plot(t[chosen], np.ones(chosen.sum()), marker, markersize=10, label=name)
    ax.set(xlabel="environment step", ylabel="action")
    ax.legend(loc="upper right", fontsize="small")


def write_csv(rows: list[dict], path: str | os.PathLike) -> None:
    """Writes `episode_rows` to `path` as CSV with the columns `LOG_FIELDS`."""
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, LOG_FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def plot_episode(log: dict[str, jax.Array], path: str | os.PathLike) -> None:
    """Loss vs inner steps (env-step boundaries dashed), score, reward, LR."""
    from matplotlib.figure import Figure  # no pyplot: the caller's backend is theirs

    log = jax.device_get(log)
    alive = np.asarray(log["alive"], bool)
    losses = np.asarray(log["losses"])[alive]  # (steps, K)
    inner = np.asarray(log["inner_steps"])[alive]
    ends = np.cumsum(inner)
    starts = ends - inner
    num_losses = losses.shape[1]
    offsets = (np.arange(num_losses) + 1) / num_losses
    t = np.arange(alive.sum())

    fig = Figure(figsize=(8, 14), constrained_layout=True)
    axes = fig.subplots(6, 1)
    trained = inner > 0
    x = starts[trained, None] + offsets * inner[trained, None]
    axes[0].plot(x.ravel(), losses[trained].ravel(), ".-")
    for boundary in ends:
        axes[0].axvline(boundary, color="grey", linestyle="--", linewidth=0.5)
    axes[0].set(xlabel="inner optimizer steps", ylabel="training loss", yscale="log")
    series = {
        "score": log["score"],
        "reward": log["reward"],
        "cumulative reward": np.cumsum(np.asarray(log["reward"])[alive]),
        "learning rate": log["lr"],
    }
    for ax, (name, values) in zip(axes[1:5], series.items(), strict=True):
        values = np.asarray(values)
        ax.plot(t, values if name == "cumulative reward" else values[alive], "o-")
        ax.set(xlabel="environment step", ylabel=name)
    axes[4].set_yscale("log")
    _plot_actions(axes[5], log, alive, t)
    fig.savefig(path, dpi=100)
