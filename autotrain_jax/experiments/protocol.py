"""The comparison protocol: controllers against what a practitioner runs instead.

Every row of a task runs through the same env settings and data, on the same
seeds (paired initial weights and minibatches), and reports its compute in
inner optimizer steps:

- each controller, greedy, from each initial LR;
- the untuned constant: the initial LR throughout;
- the fixed prior: the one constant LR best on the controller's own training
  distribution (`fixed_prior`), chosen there, never on a held-out task;
- the tuned constant and the tuned cosine: the grid's best (by mean holdout
  accuracy) constant LR and cosine peak; their compute is the whole grid's;
- every LR-free optax optimizer at its defaults (`config.LR_FREE_OPTIMIZERS`);
- early stopping with restore, and reduce-on-plateau, from each initial LR;
- PBT with one member per grid LR; its compute is every member's.

The schedules run in a twin env with the `continuous` action set (any LR
factor), built from the controller's settings and the same data.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from collections.abc import Collection, Mapping
from typing import Any

import jax
import numpy as np

import autotrain_jax as at
from autotrain_jax import baselines
from autotrain_jax.config import LR_FREE_OPTIMIZERS
from autotrain_jax.controllers import Controller, as_settings
from autotrain_jax.evaluation import evaluate_lrs, evaluate_many, evaluate_pbt
from autotrain_jax.tasks import max_budget

SUITES = pathlib.Path(__file__).parent / "suites"
BOX = {"action_set": "continuous", "max_lr_factor": 10.0}  # the twin's actions
UNTUNED, PRIOR = "untuned constant", "fixed prior"
TUNED, COSINE = "tuned constant", "tuned cosine"
PBT = "PBT"
EARLY_STOPPING, PLATEAU = "early stopping (restore)", "reduce on plateau"
ROWS = (UNTUNED, PRIOR, TUNED, COSINE, PBT, EARLY_STOPPING, PLATEAU)  # + LR-free
# The evaluation after training (`experiments.train`) and `autotrain-jax
# evaluate`: from these initial LRs, against the untuned constant and these rows.
EVAL_LRS = (1e-4, 1e-2, 1.0)
EVAL_GRID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)
EVAL_ROWS = (TUNED, "cocob")
# Settings that change only what the agent sees, never the training or its
# random streams: controllers that differ from the opponents' in these alone
# still pair with them (`add_controllers`).
OBSERVATION_ONLY = (
    "observation",
    "observe_task",
    "observe_update",
    "observe_optimizer",
)
# Settings of how a controller's own LR acts: its row runs with them in its
# own twin (`greedy_rows`), on the same task, seeds and data as the opponents',
# whose twin leaves them at the preset's (a suite cell sets every initial LR).
CONTROLLER_ONLY = (
    "lr_schedule",
    "lr_min",
    "lr_max",
    "initial_lr",
    "full_lr_factors",
    "reduced_lr_factors",
)
# The fixed prior of a controller that steers an LR-free optimizer
# (`steered`): multiples of the optimizer's default LR.
STEERED_GRID = (0.1, 0.3, 1.0, 3.0, 10.0)


@dataclasses.dataclass(frozen=True)
class Suite:
    """A committed set of held-out tasks, seeds and goals (`suites/*.json`)."""

    name: str
    seed: int  # the seeds' base key
    seeds: int  # paired seeds per row
    data: Mapping[str, Any]  # make_env data settings of every task
    common: Mapping[str, Any]  # make_env overrides of every task
    initial_lrs: Mapping[str, tuple[float, ...]]  # per family, what users pick
    grid: tuple[float, ...]  # the tuned rows' LRs, the fixed prior's too
    tasks: Mapping[str, Mapping[str, Any]]  # name: {"family", "env": overrides}
    goals: Mapping[str, str]

    def overrides(self, task: str) -> dict[str, Any]:
        """The `make_env` overrides of `task`, on top of a controller's."""
        return {**self.data, **self.common, **self.tasks[task]["env"]}

    def task_initial_lrs(self, task: str) -> tuple[float, ...]:
        return self.initial_lrs[self.tasks[task]["family"]]

    def keys(self) -> jax.Array:
        """The paired seeds' keys, one per seed, the same for every row."""
        return jax.random.split(jax.random.key(self.seed), self.seeds)


def load_suite(name: str | pathlib.Path) -> Suite:
    """A shipped suite by name (`suites/{name}.json`) or a JSON file's path.

    Raises:
      ValueError: naming the suite, if it is neither, or lacks a field.
    """
    path = SUITES / f"{name}.json"
    path = path if path.is_file() else pathlib.Path(name)
    shipped = sorted(p.stem for p in SUITES.glob("*.json"))
    if not path.is_file():
        raise ValueError(f"suite must be one of {shipped} or a JSON file, got {name!r}")
    raw = as_settings(json.loads(path.read_text()))
    fields = [f.name for f in dataclasses.fields(Suite)]
    if missing := [f for f in fields if f not in raw]:
        raise ValueError(f"suite {str(path)!r} lacks the fields {missing}")
    if len({len(lrs) for lrs in raw["initial_lrs"].values()}) != 1:
        raise ValueError(
            f"suite {str(path)!r}: initial_lrs must list as many LRs for every "
            f"family (one table per position), got {raw['initial_lrs']}"
        )
    return Suite(**{f: raw[f] for f in fields})


def twin(
    controller: Controller,
    overrides: Mapping[str, Any],
    data,
    augmented=False,
    own: bool = True,
) -> tuple[at.AutoTrainEnv, at.EnvParams]:
    """The controller's env with `overrides`, on `data`, acting through the
    `continuous` set: the env every schedule and baseline row runs in. Unless
    `own`, its `CONTROLLER_ONLY` settings are left at the preset's: the
    opponents' twin."""
    settings = controller.task_settings(augmented)
    if not own:
        settings = {k: v for k, v in settings.items() if k not in CONTROLLER_ONLY}
    settings = {**settings, **overrides, "data": data}
    return at.make_env(controller.preset, **{**settings, **BOX})


def steered(controller: Controller) -> str | None:
    """The LR-free optimizer `controller` steers (`Controller.steers`), if any.

    Such a controller replaces a task's optimizer with its own and starts
    from that optimizer's defaults (LR 1), whatever the task's initial LR:
    like the LR-free rows, its row is one run per task, the same in every
    initial-LR column."""
    return controller.steers


def _acts(env: at.AutoTrainEnv, params: at.EnvParams) -> tuple:
    """How a twin turns a controller's decisions into the LR it trains with."""
    factors = (params.full_lr_factors, params.reduced_lr_factors)
    return (env.config.lr_schedule, params.lr_min, params.lr_max, *factors)


def fixed_prior(
    controller: Controller, grid, seeds: int = 32, seed: int = 0, data_dir=None
) -> dict[str, Any]:
    """The constant LR of `grid` with the best mean holdout accuracy on the
    controller's own training distribution (augmentations included), on
    `seeds` episodes: {"lr", "holdout_accuracy": {lr: mean}, "seeds"}.

    For a controller that steers an LR-free optimizer (`steered`), the
    multiple of that optimizer's default LR, over `STEERED_GRID` (not
    `grid`), with its name under "optimizer"."""
    _, params = controller.make_env(augmented=True, data_dir=data_dir)
    env, params = twin(controller, {}, params.data, augmented=True)
    if name := steered(controller):
        grid = STEERED_GRID
    keys = jax.random.split(jax.random.key(seed), seeds)
    rows = evaluate_lrs(env, params, {"keep": baselines.keep(env, params)}, keys, grid)
    holdout = {
        lr: float(np.mean(r["keep"]["holdout_accuracy"])) for lr, r in rows.items()
    }
    best = max(holdout, key=holdout.get)
    prior = {"lr": best, "holdout_accuracy": holdout, "seeds": seeds}
    return prior | ({"optimizer": name} if name else {})


def compare_task(
    controllers: Mapping[str, Controller],
    overrides: Mapping[str, Any],
    initial_lrs,
    grid,
    keys: jax.Array,
    prior: Mapping[str, Any] | None,
    data_dir=None,
    rows: Collection[str] | None = None,
) -> dict[str, Any]:
    """Every row of the protocol on one task: {"cells": {initial LR: {row:
    per-seed results}}, "grid": {lr: {"constant", "cosine"}}, "tuned_lr",
    "cosine_peak"}. Results hold test/holdout/train accuracy, inner_steps and
    `compute` (inner steps the row's answer cost, a grid's in all).

    `rows`, if given, runs only those opponents (`ROWS`, or an LR-free
    optimizer's name) beside the controllers and the untuned constant; the
    fixed prior needs `prior` (a `fixed_prior`)."""
    if unknown := sorted(set(initial_lrs) - set(grid)):
        raise ValueError(f"initial_lrs must lie on the grid {grid}, got {unknown}")
    allowed = (*ROWS, *LR_FREE_OPTIMIZERS)
    if unknown := sorted(set(rows or ()) - set(allowed)):
        raise ValueError(f"rows must be among {allowed}, got {unknown}")
    wanted = set(allowed if rows is None else rows)
    first = next(iter(controllers.values()))
    env, params = first.make_env(data_dir=data_dir, **overrides)
    for c in controllers.values():  # all act in the first one's env
        c.check_env(env)
    box, box_params = twin(first, overrides, params.data, own=False)
    horizon = max_budget(box_params)
    grid_policies = {"constant": baselines.keep(box, box_params)}
    if COSINE in wanted:
        grid_policies["cosine"] = baselines.cosine_from_start(box, box_params, horizon)
    grid_runs = evaluate_lrs(box, box_params, grid_policies, keys, grid)
    tuned = _best(grid_runs, "constant")
    once = {}  # rows that do not depend on the initial LR
    if TUNED in wanted:
        once[TUNED] = _grid_row(grid_runs, "constant", tuned)
    if COSINE in wanted:
        peak = _best(grid_runs, "cosine")
        once[COSINE] = _grid_row(grid_runs, "cosine", peak)
    if PRIOR in wanted and prior is not None:
        once |= (
            steered_prior(first, overrides, params.data, keys, prior)
            if "optimizer" in prior
            else grid_prior(prior, grid_runs)
        )
    free = [name for name in LR_FREE_OPTIMIZERS if name in wanted]
    once |= lr_free_rows(first, overrides, params.data, keys, free)
    if PBT in wanted:
        once[PBT] = _pbt_row(box, box_params, keys, grid)
    shaped = {  # controllers whose LR acts otherwise than in the opponents' twin
        label: c
        for label, c in controllers.items()
        if steered(c)
        or _acts(*twin(c, overrides, params.data)) != _acts(box, box_params)
    }
    policies = {
        f"controller {label}": baselines.in_continuous(c.policy, env, box_params)
        for label, c in controllers.items()
        if label not in shaped
    }
    if EARLY_STOPPING in wanted:
        policies[EARLY_STOPPING] = baselines.early_stopping(box, box_params)
    if PLATEAU in wanted:
        policies[PLATEAU] = baselines.reduce_on_plateau(box, box_params)
    runs = {lr0: {} for lr0 in initial_lrs}
    if policies:
        runs = evaluate_lrs(box, box_params, policies, keys, initial_lrs)
    own = greedy_rows(shaped, overrides, params.data, keys, initial_lrs)
    cells = {}
    for lr0 in initial_lrs:
        rows_at = {name: _own_compute(row) for name, row in runs[lr0].items()}
        rows_at |= own[lr0]
        untuned = {UNTUNED: _own_compute(grid_runs[lr0]["constant"])}
        controllers_first = [f"controller {label}" for label in controllers]
        others = {n: rows_at[n] for n in rows_at if n not in controllers_first}
        cells[lr0] = (
            {n: rows_at[n] for n in controllers_first} | untuned | once | others
        )
    result = {"cells": cells, "grid": grid_runs, "tuned_lr": tuned}
    if COSINE in wanted:
        result["cosine_peak"] = peak
    return result


def from_initial_lrs(
    controllers: Mapping[str, Controller],
    keys: jax.Array,
    initial_lrs=EVAL_LRS,
    grid=EVAL_GRID,
    rows: Collection[str] = EVAL_ROWS,
    overrides: Mapping[str, Any] | None = None,
    data_dir=None,
) -> dict[str, Any]:
    """`compare_task` on the first controller's training distribution (with
    `overrides`), from each of `initial_lrs`, the tuned constant chosen over
    `grid` with the initial LRs added; no fixed prior: {"cells", "tuned_lr"}.

    The controllers may differ in what they see (`OBSERVATION_ONLY`) and in
    how their LR acts (`CONTROLLER_ONLY`): each then runs in its own twin of
    the first one's task, on the same seeds.

    Raises:
      ValueError: naming the settings, if with `overrides` the controllers'
        training distributions are not one task (before any data loads).
    """
    overrides = dict(overrides or {})
    (first, reference), *others = controllers.items()
    for label, c in others:
        if differ := _settings_differences(c, reference, overrides):
            raise ValueError(
                f"controller {label!r} was trained on another task than {first!r}:"
                f" they differ in {differ}; give overrides (--env) that set them"
            )
    alike = {
        label: c
        for label, c in controllers.items()
        if _observed(c) == _observed(reference)
    }
    task = compare_task(
        alike,
        overrides,
        initial_lrs,
        tuple(sorted({*grid, *initial_lrs})),
        keys,
        prior=None,
        data_dir=data_dir,
        rows=rows,
    )
    if apart := {label: c for label, c in controllers.items() if label not in alike}:
        _, params = reference.make_env(data_dir=data_dir, **overrides)
        seen = greedy_rows(apart, overrides, params.data, keys, initial_lrs)
        named = [f"controller {label}" for label in controllers]
        cells = {}
        for lr0, rows_at in task["cells"].items():
            rows_at = {**rows_at, **seen[lr0]}
            cells[lr0] = {n: rows_at.pop(n) for n in named} | rows_at
        task["cells"] = cells
    return {"cells": task["cells"], "tuned_lr": task["tuned_lr"]}


def lr_free_rows(
    controller, overrides, data, keys, names=LR_FREE_OPTIMIZERS
) -> dict[str, dict]:
    """Each LR-free optax optimizer of `names` at its defaults (the env's LR 1,
    kept)."""
    rows = {}
    for name in names:
        free = {**overrides, "optimizer": name, "initial_lr": 1.0, "lr_max": 10.0}
        env, params = twin(controller, free, data, own=False)
        row = evaluate_many(env, params, {name: baselines.keep(env, params)}, keys)
        rows[f"{name} (defaults)"] = _own_compute(row[name])
    return rows


def _own_compute(row: dict) -> dict:
    return row | {"compute": row["inner_steps"]}


def _best(runs: dict, policy: str) -> float:
    """The grid LR whose `policy` row has the best mean holdout accuracy."""
    return max(runs, key=lambda lr: np.mean(runs[lr][policy]["holdout_accuracy"]))


def _grid_row(runs: dict, policy: str, lr: float) -> dict:
    """The grid's chosen row, its compute the whole grid's, per seed."""
    compute = np.sum([runs[g][policy]["inner_steps"] for g in runs], axis=0)
    return runs[lr][policy] | {"compute": compute}


def _pbt_row(env, params, keys, grid) -> dict:
    params = params.replace(initial_lr=float(grid[0]))  # members then start on grid
    return _own_compute(evaluate_pbt(env, params, keys, initial_lrs=tuple(grid)))


def run_suite(
    controllers: Mapping[str, Controller],
    suite: Suite,
    tasks=None,
    data_dir=None,
    on_task=None,
    done: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The protocol over the suite's tasks (all by default): {"suite", "seeds",
    "priors": {label: fixed_prior}, "tasks": {task: compare_task}}.
    `on_task(results)` is called after each task (e.g. to save progress).
    `done`, the results of an earlier run of the same suite and controllers,
    is continued: its priors and tasks are kept, not run again."""
    tasks = list(suite.tasks) if tasks is None else list(tasks)
    if unknown := sorted(set(tasks) - set(suite.tasks)):
        raise ValueError(f"tasks must be among {sorted(suite.tasks)}, got {unknown}")
    if done is None:
        priors = {
            label: fixed_prior(c, suite.grid, data_dir=None)
            for label, c in controllers.items()
        }
        results = {"suite": suite.name, "seeds": suite.seeds, "priors": priors}
        results["tasks"] = {}
    else:
        _check_continues(done, controllers, suite)
        results = {**done, "tasks": dict(done["tasks"])}
    prior = next(iter(results["priors"].values()))
    keys = suite.keys()
    for task in tasks:
        if task in results["tasks"]:
            continue
        results["tasks"][task] = compare_task(
            controllers,
            suite.overrides(task),
            suite.task_initial_lrs(task),
            suite.grid,
            keys,
            prior,
            data_dir,
        )
        if on_task is not None:
            on_task(results)
    return results


def add_controllers(
    controllers: Mapping[str, Controller],
    suite: Suite,
    earlier: Mapping[str, Any],
    reference: Controller,
    tasks=None,
    data_dir=None,
    on_task=None,
    done: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """`controllers` on the suite, paired with the opponents of an `earlier`
    `run_suite` of it, which are reused, not rerun: only the new controllers'
    rows run, on the same seeds and data, in the twin env of `reference` (the
    earlier run's first controller, whose settings built its opponents), with
    each controller's own `OBSERVATION_ONLY` and `CONTROLLER_ONLY` settings.

    Returns their rows alone, in `run_suite`'s form with the first new
    controller's own fixed prior; `with_opponents` puts the earlier rows
    beside them. `on_task(rows)` is called after each task. `done`, what an
    earlier call with the same controllers saved (`with_opponents` of its
    rows), is continued: its tasks are kept, not run again.

    Raises:
      ValueError: if `earlier` is another suite or seed count, lacks a task,
        or a controller's twin env differs from the reference's on a task
        (then its opponents would not be the earlier ones: run the suite); or
        if `done` is another run.
    """
    tasks = list(suite.tasks) if tasks is None else list(tasks)
    if unknown := sorted(set(tasks) - set(suite.tasks)):
        raise ValueError(f"tasks must be among {sorted(suite.tasks)}, got {unknown}")
    settings = {"suite": (earlier["suite"], suite.name)}
    settings["seeds"] = (earlier["seeds"], suite.seeds)
    if changed := {k: v for k, v in settings.items() if v[0] != v[1]}:
        listed = "; ".join(f"{k}: {a!r} != {b!r}" for k, (a, b) in changed.items())
        raise ValueError(f"the earlier results are another run ({listed})")
    if missing := sorted(set(tasks) - set(earlier["tasks"])):
        raise ValueError(f"the earlier results lack the tasks {missing}")
    for task in tasks:
        for label, c in controllers.items():
            if differ := _settings_differences(c, reference, suite.overrides(task)):
                raise ValueError(
                    f"controller {label!r}'s env on task {task!r} differs from "
                    f"the earlier opponents' in {differ}: run the whole suite"
                )
    if done is not None:
        _check_continues(done, list(controllers)[:1], suite)
        results = {**done, "tasks": _added_rows(done, earlier, controllers)}
    else:
        first, controller = next(iter(controllers.items()))
        prior = fixed_prior(controller, suite.grid)
        results = {"suite": suite.name, "seeds": suite.seeds, "priors": {first: prior}}
        results["tasks"] = {}
    prior = next(iter(results["priors"].values()))
    for task in tasks:
        if task in results["tasks"]:
            continue
        cells = controller_cells(controllers, suite, task, reference, data_dir, prior)
        results["tasks"][task] = {"cells": cells}
        if on_task is not None:
            on_task(results)
    return results


def _added_rows(done, earlier, controllers) -> dict[str, Any]:
    """The rows `add_controllers` ran in `done` (`with_opponents` of them):
    {task: {"cells": {initial LR: rows not among the earlier run's}}}, or a
    ValueError if a task lacks one of the `controllers`."""
    labels = {f"controller {label}" for label in controllers}
    tasks = {}
    for task, result in done["tasks"].items():
        cells = {}
        for lr0, rows in result["cells"].items():
            if missing := sorted(labels - set(rows)):
                raise ValueError(
                    f"the earlier results are another run (task {task!r} "
                    f"lacks {missing})"
                )
            old = earlier["tasks"][task]["cells"][lr0]
            cells[lr0] = {n: r for n, r in rows.items() if n in labels or n not in old}
        tasks[task] = {"cells": cells}
    return tasks


def controller_cells(
    controllers: Mapping[str, Controller],
    suite: Suite,
    task: str,
    reference: Controller,
    data_dir=None,
    prior: Mapping[str, Any] | None = None,
) -> dict[float, dict[str, dict]]:
    """Each controller's greedy row on `task` from each of its initial LRs, on
    the suite's seeds and the data `reference` loads, each controller in its
    own twin (what it sees): {initial LR: {"controller LABEL": row}}. With the
    first controller's `prior` steering an LR-free optimizer, whose row the
    opponents' grid lacks, that row too (`steered_prior`)."""
    overrides = suite.overrides(task)
    _, params = reference.make_env(data_dir=data_dir, **overrides)
    lrs, keys = suite.task_initial_lrs(task), suite.keys()
    cells = greedy_rows(controllers, overrides, params.data, keys, lrs)
    if prior is not None and "optimizer" in prior:
        first = next(iter(controllers.values()))
        row = steered_prior(first, overrides, params.data, keys, prior)
        cells = {lr0: rows | row for lr0, rows in cells.items()}
    return cells


def greedy_rows(
    controllers: Mapping[str, Controller], overrides, data, keys, initial_lrs
) -> dict[float, dict[str, dict]]:
    """Each controller's greedy row under `overrides` on `data`, from each
    initial LR, in its own twin (what it sees): {initial LR: {"controller
    LABEL": row}}. A controller that steers an LR-free optimizer (`steered`)
    runs once, with that optimizer from its defaults, its row in every cell."""
    cells = {lr0: {} for lr0 in initial_lrs}
    for label, c in controllers.items():
        name = steered(c)
        own = {**overrides, "optimizer": name} if name else overrides
        start = {lr0: 1.0 if name else lr0 for lr0 in initial_lrs}
        env, _ = c.make_env(data=data, **own)
        box, box_params = twin(c, own, data)
        policy = baselines.in_continuous(c.policy, env, box_params)
        row = f"controller {label}"
        starts = tuple(dict.fromkeys(start.values()))
        runs = evaluate_lrs(box, box_params, {row: policy}, keys, starts)
        for lr0 in initial_lrs:
            cells[lr0][row] = _own_compute(runs[start[lr0]][row])
    return cells


def grid_prior(prior: Mapping[str, Any], grid_runs: Mapping[float, dict]) -> dict:
    """The fixed prior's row on a task, read from the task's grid (the
    opponents' constant at the prior's LR): {"fixed prior (LR)": row}."""
    lr = prior["lr"]
    return {f"{PRIOR} ({lr:g})": _own_compute(grid_runs[lr]["constant"])}


def steered_prior(controller: Controller, overrides, data, keys, prior) -> dict:
    """The fixed prior of a controller that steers an LR-free optimizer
    (`fixed_prior` names it), on a task: that optimizer under `overrides` at
    the prior's multiple of its default LR, kept, in the controller's twin:
    {"fixed prior (NAME xLR)": row}. The opponents' grid holds no such row."""
    lr, name = prior["lr"], prior["optimizer"]
    env, params = twin(controller, {**overrides, "optimizer": name}, data)
    runs = evaluate_lrs(env, params, {PRIOR: baselines.keep(env, params)}, keys, (lr,))
    return {f"{PRIOR} ({name} x{lr:g})": _own_compute(runs[lr][PRIOR])}


def validate(
    controllers: Mapping[str, Controller], suite: Suite, data_dir=None, on_task=None
) -> dict[str, Any]:
    """Candidates on a validation suite, to choose among them: their rows
    (`controller_cells`, the first candidate's data) and each one's mean
    holdout accuracy over tasks, initial LRs and seeds; test accuracy is
    recorded but a choice should not read it. `on_task(results)` is called
    after each task.

    Returns:
      {"suite", "seeds", "tasks": {task: {"cells"}}, "holdout_accuracy":
      {label: mean over the tasks done}}.
    """
    reference = next(iter(controllers.values()))
    results = {"suite": suite.name, "seeds": suite.seeds, "tasks": {}}
    for task in suite.tasks:
        cells = controller_cells(controllers, suite, task, reference, data_dir)
        results["tasks"][task] = {"cells": cells}
        results["holdout_accuracy"] = {
            label: float(
                np.mean(
                    [
                        rows[f"controller {label}"]["holdout_accuracy"]
                        for done in results["tasks"].values()
                        for rows in done["cells"].values()
                    ]
                )
            )
            for label in controllers
        }
        if on_task is not None:
            on_task(results)
    return results


def with_opponents(rows: Mapping[str, Any], earlier: Mapping[str, Any]) -> dict:
    """`add_controllers`'s `rows` with the `earlier` run's rows beside them, on
    the tasks `rows` holds: its controllers and opponents, and the fixed prior
    of `rows` in place of the earlier one (read from the earlier grid, unless
    `rows` holds it: `steered_prior`)."""
    prior = next(iter(rows["priors"].values()))
    results = {**rows, "tasks": {}}
    for task, new in rows["tasks"].items():
        old = earlier["tasks"][task]
        cells = {}
        for lr0, kept in old["cells"].items():
            cells[lr0] = dict(new["cells"][lr0])
            ran = any(name.startswith(PRIOR) for name in cells[lr0])
            for name, row in kept.items():
                if name.startswith(PRIOR):
                    if not ran:
                        cells[lr0] |= grid_prior(prior, old["grid"])
                elif name not in cells[lr0]:
                    cells[lr0][name] = row
        results["tasks"][task] = {**old, "cells": cells}
    return results


def _observed(controller: Controller) -> dict[str, Any]:
    """Its own twin's settings: what its agent sees (`OBSERVATION_ONLY`) and
    how its LR acts (`CONTROLLER_ONLY`; None: the preset's)."""
    settings = {
        **controller.task_settings(),
        **dataclasses.asdict(controller.env_config),
    }
    return {k: settings.get(k) for k in (*OBSERVATION_ONLY, *CONTROLLER_ONLY)}


def _settings_differences(controller, reference, overrides) -> list[str]:
    """The make_env settings (and preset) in which the two controllers' twins
    would differ under `overrides`, beyond what the agent sees (and the
    optimizer, which a controller that steers an LR-free one brings)."""
    a = {"preset": controller.preset, **controller.task_settings(), **overrides}
    b = {"preset": reference.preset, **reference.task_settings(), **overrides}
    keys = (a.keys() | b.keys()) - {*OBSERVATION_ONLY, *CONTROLLER_ONLY}
    if steered(controller):
        keys -= {"optimizer"}
    return sorted(k for k in keys if a.get(k) != b.get(k))


def _check_continues(done: Mapping[str, Any], controllers, suite: Suite) -> None:
    """Raise a ValueError naming each setting in which `done` is another run."""
    settings = {
        "suite": (done["suite"], suite.name),
        "seeds": (done["seeds"], suite.seeds),
        "controllers": (list(done["priors"]), list(controllers)),
    }
    if changed := {k: v for k, v in settings.items() if v[0] != v[1]}:
        listed = "; ".join(
            f"{k}: {old!r} -> {new!r}" for k, (old, new) in changed.items()
        )
        raise ValueError(f"the earlier results are another run ({listed})")
