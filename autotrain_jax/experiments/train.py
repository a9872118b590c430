"""The PPO example as a command: train the controller, save it, evaluate it."""

from __future__ import annotations

import argparse
import ast
import csv
import dataclasses
import json
import os
import pathlib
import time

import jax
import numpy as np

import autotrain_jax as at
from autotrain_jax import compile_cache, controllers
from autotrain_jax.agents.ppo import PPOConfig, make_ppo
from autotrain_jax.agents.ppo import run as ppo_run
from autotrain_jax.config import LR_FREE_OPTIMIZERS
from autotrain_jax.episode_log import episode_rows, plot_episode, write_csv
from autotrain_jax.experiments import protocol, report
from autotrain_jax.experiments.provenance import stamp
from autotrain_jax.rollout import rollout
from autotrain_jax.tasks import max_budget

PPO_FIELDS = tuple(f.name for f in dataclasses.fields(PPOConfig))
EVAL_OPTIONS = tuple(  # the untuned constant is always there; no fixed prior here
    row
    for row in (*protocol.ROWS, *LR_FREE_OPTIMIZERS)
    if row not in (protocol.UNTUNED, protocol.PRIOR)
)


def parse_args(argv, preset: str, defaults: dict) -> argparse.Namespace:
    """The example scripts' command line, with `defaults` for `preset`."""
    parser = argparse.ArgumentParser(
        description=f"Train a PPO controller on the {preset} AutoTrain environment."
    )
    parser.add_argument("--num-envs", type=int, default=defaults["num_envs"])
    parser.add_argument("--num-steps", type=int, default=defaults["num_steps"])
    parser.add_argument("--num-updates", type=int, default=defaults["num_updates"])
    parser.add_argument(
        "--action-set",
        default=defaults.get("action_set", "full"),
        choices=at.config.ACTION_SETS,
    )
    parser.add_argument(
        "--reward",
        default=defaults.get("reward", "prototype"),
        choices=at.config.REWARDS,
    )
    parser.add_argument(
        "--gamma",
        type=float,
        default=1.0,
        help="discount; below 1 the final reward (score x 10) favours stopping early",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=f"runs/{preset}")
    parser.add_argument("--data-dir", default=None, help="folder of .npz or idx files")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        type=parse_setting,
        help="a make_env override, e.g. --env train_size=400 (repeatable); "
        f"on top of {defaults.get('env', {})}",
    )
    parser.add_argument(
        "--ppo",
        action="append",
        default=list(defaults.get("ppo", {}).items()),
        metavar="KEY=VALUE",
        type=parse_setting,
        help="a PPOConfig field, e.g. --ppo lr=1e-3 --ppo hidden=(32,32) "
        f"(repeatable; fields: {', '.join(PPO_FIELDS)}); on top of "
        f"{defaults.get('ppo', {})}",
    )
    parser.add_argument(
        "--eval-seeds", type=int, default=8, help="paired seeds per row (>= 2)"
    )
    parser.add_argument(
        "--eval-lrs",
        type=parse_lrs,
        default=defaults.get("eval_lrs", protocol.EVAL_LRS),
        help="comma-separated initial LRs the controller is evaluated from",
    )
    parser.add_argument(
        "--eval-grid",
        type=parse_lrs,
        default=defaults.get("eval_grid", protocol.EVAL_GRID),
        help="comma-separated LRs the tuned constant is chosen from (by mean "
        "holdout accuracy; the initial LRs are added)",
    )
    parser.add_argument(
        "--eval-rows",
        type=lambda text: tuple(text.split(",")),
        default=protocol.EVAL_ROWS,
        help="comma-separated opponents beside the untuned constant "
        f"(of {', '.join(EVAL_OPTIONS)})",
    )
    parser.add_argument(
        "--checkpoint-every", type=int, default=defaults.get("checkpoint_every", 0)
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--log-dir",
        default=None,
        help="write TensorBoard event files here: every metric per update, and "
        "the evaluated controlled run per env step",
    )
    parser.add_argument(
        "--no-compile-cache",
        action="store_true",
        help="do not use JAX's persistent compilation cache "
        f"(default: {compile_cache.default_dir()}; or set ${compile_cache.OPT_OUT})",
    )
    return parser.parse_args(argv)


def main(argv=None, preset: str = "mnist-mlp", defaults: dict | None = None) -> dict:
    """Trains a PPO controller on `preset`, evaluates it on fresh paired seeds
    from each `--eval-lrs` initial LR against the untuned constant and the
    `--eval-rows` opponents (`protocol.compare_task`), and writes the run
    folder (config, metrics, checkpoints, controller, evaluation, one
    controlled episode's CSV and plot).

    Returns:
      the evaluation written to evaluation.json: {"cells": {initial LR: {row:
      per-seed results}}, "tuned_lr", "wall_time_s"} and `provenance.stamp()`.
    """
    defaults = {"num_envs": 16, "num_steps": 16, "num_updates": 40, **(defaults or {})}
    args = parse_args(argv, preset, defaults)
    compile_cache.enable(args.no_compile_cache)
    started = time.time()
    # Across processes (see autotrain_jax.distributed) every process trains its
    # share of the envs and evaluates the same replicated controller; process 0
    # writes the run folder and prints.
    primary = jax.process_index() == 0
    out = pathlib.Path(args.out)
    overrides = {**defaults.get("env", {}), **dict(args.env)}
    config = ppo_config(args)  # its errors come before any data is read
    check_evaluation(args)
    launch = {"preset": preset, "args": vars(args), "ppo": dataclasses.asdict(config)}
    check_resume(out, launch | {"make_env": overrides})
    env, params = at.make_env(
        preset,
        action_set=args.action_set,
        reward=args.reward,
        data_dir=args.data_dir,
        **overrides,
    )
    if primary:
        out.mkdir(parents=True, exist_ok=True)
        config_dict = _config_dict(preset, args, env, params, config)
        _write_json(out / "config.json", config_dict | {"make_env": overrides})

    checkpoints = out / "checkpoints" if args.checkpoint_every else None
    board = TensorBoard(args.log_dir) if args.log_dir and primary else None
    runner, metrics, _ = ppo_run.train_in_chunks(
        config,
        env,
        params,
        jax.random.key(args.seed),
        checkpoint_dir=checkpoints,
        checkpoint_every=args.checkpoint_every,
        progress=not args.quiet,
        on_rows=None if board is None else board.updates,
    )
    settings = {"action_set": args.action_set, "reward": args.reward, **overrides}
    trained = _controller(preset, settings, env, config, runner, args.seed)
    controller = trained.policy

    keys = jax.random.split(jax.random.key(args.seed + 1), args.eval_seeds)
    evaluation = protocol.from_initial_lrs(
        {"PPO without stop": trained.without("stop"), "PPO": trained},
        keys,
        args.eval_lrs,
        args.eval_grid,
        args.eval_rows,
        data_dir=args.data_dir,
    )
    horizon = max_budget(params)
    log, _ = jax.jit(lambda key, p: rollout(env, p, controller, key, horizon))(
        keys[0], params
    )
    summary = evaluation | {"wall_time_s": time.time() - started, **stamp()}
    if primary:
        _write_run(out, metrics, trained, log, summary)
        _print_summary(summary, args.eval_seeds, out)
    if board is not None:
        board.controlled_run(episode_rows(log))
        board.close()
    return summary


class TensorBoard:
    """TensorBoard event files (tensorboardX) of a training run: the scalar
    metrics of each PPO update under `ppo/`, the action histogram as
    `ppo/actions/<id>`, and one controlled run per env step under
    `controlled_run/`."""

    def __init__(self, log_dir: str | os.PathLike):
        from tensorboardX import SummaryWriter

        self._writer = SummaryWriter(str(log_dir))

    def updates(self, rows: list[dict], first: int) -> None:
        """Metrics rows of updates `first`, `first + 1`, ... (None: no
        episode ended, so nothing is written)."""
        for update, row in enumerate(rows, start=first):
            for name, value in row.items():
                if isinstance(value, list):
                    for i, v in enumerate(value):
                        self._writer.add_scalar(f"ppo/{name}/{i}", v, update)
                elif value is not None:
                    self._writer.add_scalar(f"ppo/{name}", value, update)
        self._writer.flush()

    def controlled_run(self, rows: list[dict]) -> None:
        """The evaluated controller's episode, one point per env step."""
        for row in rows:
            for name, value in row.items():
                if isinstance(value, int | float) and name != "t":
                    self._writer.add_scalar(f"controlled_run/{name}", value, row["t"])

    def close(self) -> None:
        self._writer.close()


# Settings a resumed run may change: its length, how much it prints, how its
# folder is spelt, and the evaluation after training.
RESUMABLE = (
    "args.num_updates",
    "ppo.num_updates",
    "args.quiet",
    "args.log_dir",
    "args.out",
    "args.no_compile_cache",
    "args.eval_seeds",
    "args.eval_lrs",
    "args.eval_grid",
    "args.eval_rows",
)


def check_resume(out: pathlib.Path, launch: dict) -> None:
    """Raises a ValueError listing every setting (other than `RESUMABLE`) in
    which `launch` differs from the run whose checkpoints `out` holds: a resume
    continues that run, so other settings would be silently ignored."""
    saved = out / "config.json"
    checkpoints = out / "checkpoints"
    if not (saved.is_file() and checkpoints.is_dir() and any(checkpoints.iterdir())):
        return
    before = _flat(json.loads(saved.read_text()))
    now = _flat(json.loads(json.dumps(launch)))
    differ = sorted(
        k
        for k in (set(now) | set(before)) - set(RESUMABLE)
        if k.split(".")[0] in launch and before.get(k) != now.get(k)
    )
    if differ:
        changes = "; ".join(f"{k}: {before.get(k)!r} -> {now.get(k)!r}" for k in differ)
        raise ValueError(
            f"--out {str(out)!r} holds checkpoints of a run with other settings, "
            f"which a resume would ignore ({changes}); use another --out, or the "
            "same settings (only --num-updates and the --eval-* flags may change)"
        )


def _flat(tree: dict, prefix: str = "") -> dict:
    """{"a": {"b": 1}} -> {"a.b": 1}."""
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat |= _flat(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _write_run(out: pathlib.Path, rows, trained, log, summary) -> None:
    """The run folder's outputs after training (config.json comes before)."""
    _write_json(out / "metrics.json", rows)
    _plot_learning_curve(rows, out / "learning_curve.png")
    trained.save(out)
    write_csv(episode_rows(log), out / "controlled_run.csv")
    plot_episode(log, out / "controlled_run.png")
    (out / "evaluation.json").write_text(report.to_json(summary))


def _print_summary(summary: dict, seeds: int, out: pathlib.Path) -> None:
    print(
        f"Test accuracy (%), mean of {seeds} paired seeds, on the training "
        "distribution from each initial LR; in brackets the controller minus "
        "that row, ± 95% CI:"
    )
    print(report.task_table(summary))
    print(f"wall time {summary['wall_time_s']:.0f} s; outputs in {out}")


def parse_lrs(text: str) -> tuple[float, ...]:
    """`a,b,...` -> learning rates, each a number > 0 (argparse's type)."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers a,b,..., got {text!r}"
        ) from None
    if not all(0 < v < float("inf") for v in values):
        raise argparse.ArgumentTypeError(f"learning rates must be > 0, got {text!r}")
    return values


def ppo_config(args: argparse.Namespace) -> PPOConfig:
    """The PPOConfig the command line asks for: its named flags, then `--ppo`.

    Raises:
      ValueError: on a field PPOConfig does not have, naming the allowed ones.
    """
    fields = {
        "num_envs": args.num_envs,
        "num_steps": args.num_steps,
        "num_updates": args.num_updates,
        "gamma": args.gamma,
    }
    unknown = sorted(set(dict(args.ppo)) - set(PPO_FIELDS))
    if unknown:
        raise ValueError(f"unknown --ppo fields {unknown}; allowed: {PPO_FIELDS}")
    return PPOConfig(**fields | dict(args.ppo))


def check_evaluation(args: argparse.Namespace) -> None:
    """Raises a ValueError naming `--eval-seeds` or `--eval-rows` if the
    evaluation after training could not run (checked before anything loads)."""
    if args.eval_seeds < 2:
        raise ValueError(
            f"--eval-seeds must be >= 2 (a confidence interval), got {args.eval_seeds}"
        )
    if unknown := sorted(set(args.eval_rows) - set(EVAL_OPTIONS)):
        raise ValueError(f"--eval-rows must be among {EVAL_OPTIONS}, got {unknown}")


def parse_setting(text: str) -> tuple[str, object]:
    """`KEY=VALUE` -> (key, value): a Python literal if it parses, else the text."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def _config_dict(preset, args, env, params, config) -> dict:
    scalars = {
        f.name: getattr(params, f.name)
        for f in dataclasses.fields(params)
        if f.name != "data"
    }
    return {
        "preset": preset,
        "args": vars(args),
        "env": dataclasses.asdict(env.config),
        "env_params": jax.tree.map(float, scalars),
        "data": {
            "train": len(params.data.train_y),
            "holdout": len(params.data.holdout_y),
            "test": len(params.data.test_y),
        },
        "ppo": dataclasses.asdict(config),
    }


def _write_json(path: pathlib.Path, value) -> None:
    path.write_text(json.dumps(value, indent=2))


def _controller(preset, settings, env, config, runner, seed, **provenance):
    """The run's controller, with how it was made."""
    env_steps = config.num_envs * config.num_steps * int(runner.update)
    return controllers.Controller(
        preset=preset,
        settings=settings,
        env_config=env.config,
        ppo_config=config,
        # Host copies: across processes the runner's arrays span all of them.
        agent_params=jax.device_get(runner.agent_params),
        obs_stats=jax.device_get(runner.obs_stats),
        provenance={
            **stamp(),
            "env_steps": env_steps,
            "seed": seed,
            **provenance,
        },
    )


def checkpoint_controller(
    run_dir: str | os.PathLike, update: int | None = None
) -> controllers.Controller:
    """The controller in a run's checkpoint after `update` updates (default: the
    newest), e.g. to study a run part-way (`autotrain-jax evaluate RUN
    --update N`). `run_dir` is a training run's --out, run with
    --checkpoint-every; the run keeps its two newest checkpoints.

    Raises:
      ValueError: naming the kept checkpoints, if `update` is not one of them.
    """
    run_dir = pathlib.Path(run_dir)
    checkpoints = ppo_run.Checkpoints(run_dir / "checkpoints")
    update = checkpoints.latest() if update is None else update
    if update not in checkpoints.steps():
        raise ValueError(
            f"update must be one of the checkpoints kept in {str(run_dir)!r}, "
            f"{list(checkpoints.steps())}, got {update!r}"
        )
    saved = json.loads((run_dir / "config.json").read_text())
    args = saved["args"]
    settings = {"action_set": args["action_set"], "reward": args["reward"]}
    settings |= controllers.as_settings(saved["make_env"])
    env, params = at.make_env(saved["preset"], data_dir=args["data_dir"], **settings)
    config = PPOConfig(**controllers.as_settings(saved["ppo"]))
    template = jax.jit(make_ppo(config, env).init)(jax.random.key(0), params)
    runner, _ = checkpoints.restore(update, template)
    return _controller(
        saved["preset"], settings, env, config, runner, args["seed"], update=update
    )


def _plot_learning_curve(rows: list[dict], path: pathlib.Path) -> None:
    from matplotlib.figure import Figure  # no pyplot: the caller's backend is theirs

    updates = np.arange(1, len(rows) + 1)
    fig = Figure(figsize=(10, 4), constrained_layout=True)
    axes = fig.subplots(1, 2)
    for ax, name in zip(axes, ("episode_return", "final_score"), strict=True):
        values = [np.nan if r[name] is None else r[name] for r in rows]
        ax.plot(updates, values, "o-")
        ax.set(xlabel="PPO update", ylabel=name.replace("_", " "))
    fig.savefig(path, dpi=100)
    with open(path.with_suffix(".csv"), "w", newline="") as file:
        names = [k for k, v in rows[0].items() if not isinstance(v, list)]
        writer = csv.DictWriter(file, ["update", *names])
        writer.writeheader()
        for update, row in zip(updates, rows, strict=True):
            writer.writerow({"update": int(update), **{k: row[k] for k in names}})
