"""The protocol's results as JSON and markdown tables, generated from the data."""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any

import numpy as np

from autotrain_jax.config import LR_FREE_OPTIMIZERS
from autotrain_jax.evaluation import summarize
from autotrain_jax.experiments import provenance
from autotrain_jax.experiments.protocol import (
    COSINE,
    SUITES,
    TUNED,
    UNTUNED,
    load_suite,
)


def to_json(results: dict[str, Any]) -> str:
    """`run_suite`'s results as JSON: arrays as lists, LR keys as strings."""

    def plain(value):
        if isinstance(value, dict):
            return {_key(k): plain(v) for k, v in value.items()}
        if isinstance(value, np.ndarray | np.generic):
            return value.tolist()
        return value

    return json.dumps(plain(results), indent=1)


def from_json(text: str) -> dict[str, Any]:
    """`to_json`'s output back to arrays and float LR keys."""

    def parsed(value):
        if isinstance(value, dict):
            return {_unkey(k): parsed(v) for k, v in value.items()}
        if isinstance(value, list) and value and not isinstance(value[0], dict):
            return np.asarray(value)
        return value

    return parsed(json.loads(text))


def _key(k):
    return f"{k:g}" if isinstance(k, float) else k


def _unkey(k: str):
    try:
        return float(k)
    except ValueError:
        return k


def find(rows: dict, short: str) -> str | None:
    """The row whose name, before any " (...)", is `short`."""
    return next((n for n in rows if n.split(" (")[0] == short), None)


def diff(rows: dict, name: str, opponent: str) -> np.ndarray:
    """Per seed: test accuracy of row `name` minus row `opponent` (short names)."""
    a, b = (np.asarray(rows[find(rows, n)]["test_accuracy"]) for n in (name, opponent))
    return a - b


def controller_rows(results: dict) -> list[str]:
    """The controllers' row names, in order (the first is the one under test)."""
    first = next(iter(next(iter(results["tasks"].values()))["cells"].values()))
    return [name for name in first if name.startswith("controller")]


def opponents(results: dict) -> list[str]:
    """Short names of the rows in every cell that are not controllers."""
    cells = [rows for t in results["tasks"].values() for rows in t["cells"].values()]
    names = [n.split(" (")[0] for n in cells[0] if not n.startswith("controller")]
    return [n for n in names if all(find(rows, n) for rows in cells)]


def _cells_at(results: dict, position: int | None):
    """(task, initial LR, rows) at the `position`-th initial LR of each task's
    family (0: the lowest), or every cell if None."""
    for task, r in results["tasks"].items():
        lrs = sorted(r["cells"])
        for lr0 in lrs if position is None else [lrs[position]]:
            yield task, lr0, r["cells"][lr0]


def headline(results: dict, controller: str, positions=None) -> str:
    """Per initial LR (lowest, middle, highest of each task's family) and over
    all: the controller minus each opponent, paired; the mean over tasks with
    a 95% CI over seeds and one over tasks; the worst cell; relative compute.
    `positions`: which of those tables (indices, None for all), default every one."""
    first = next(iter(results["tasks"].values()))
    every = range(len(first["cells"]))
    labels = {0: "lowest", len(every) - 1: "highest"}
    out = []
    for position in [*every, None] if positions is None else positions:
        cells = list(_cells_at(results, position))
        title = (
            "all initial LRs"
            if position is None
            else f"the {labels.get(position, 'middle')} initial LR of each task"
        )
        out += [
            f"#### {controller} vs each opponent, from {title}",
            "",
            "| opponent | mean diff | 95% CI (seeds) | 95% CI (tasks) "
            "| worst cell | opponent compute / controller's |",
            "|---|---|---|---|---|---|",
        ]
        for opponent in opponents(results):
            out.append(_headline_row(cells, controller, opponent))
        out.append("")
    return "\n".join(out)


def _headline_row(cells, controller: str, opponent: str) -> str:
    per_cell = [diff(rows, controller, opponent) for _, _, rows in cells]
    seeds = summarize(np.mean(per_cell, 0))
    tasks: dict[str, list] = {}
    for (task, _, _), d in zip(cells, per_cell, strict=True):
        tasks.setdefault(task, []).append(np.mean(d))
    over_tasks = summarize([np.mean(v) for v in tasks.values()])
    worst = min(
        zip((np.mean(d) for d in per_cell), cells, strict=True), key=lambda x: x[0]
    )
    ratio = np.mean(
        [
            np.mean(rows[find(rows, opponent)]["compute"])
            / np.mean(rows[find(rows, controller)]["compute"])
            for _, _, rows in cells
        ]
    )
    return (
        f"| {opponent} | {100 * seeds['mean']:+.2f} pts | ± {100 * seeds['ci95']:.2f}"
        f" | ± {100 * over_tasks['ci95']:.2f} | {100 * worst[0]:+.2f} "
        f"({worst[1][0]} @ {worst[1][1]:g}) | {ratio:.1f}x |"
    )


def by_initial_lr(results: dict, controller: str, against=None) -> str:
    """One table: the controller minus each opponent (of `against`, default
    all), paired, mean over tasks with a 95% CI over seeds, from the lowest,
    middle and highest initial LR of each task's family and over all; and the
    worst cell over all."""
    first = next(iter(results["tasks"].values()))
    positions = [*range(len(first["cells"])), None]
    names = {0: "lowest", len(positions) - 2: "highest"}
    columns = [
        "all" if p is None else f"from the {names.get(p, 'middle')} LR"
        for p in positions
    ]
    out = [
        f"| {controller} minus | {' | '.join(columns)} | worst cell |",
        "|---|" + "---|" * (len(columns) + 1),
    ]
    for opponent in opponents(results) if against is None else against:
        row = []
        for position in positions:
            cells = list(_cells_at(results, position))
            per_cell = [diff(rows, controller, opponent) for _, _, rows in cells]
            s = summarize(np.mean(per_cell, 0))
            row.append(f"{100 * s['mean']:+.2f} ± {100 * s['ci95']:.2f}")
        means = [np.mean(diff(rows, controller, opponent)) for _, _, rows in cells]
        worst = int(np.argmin(means))
        task, lr0, _ = cells[worst]
        row.append(f"{100 * means[worst]:+.2f} ({task} @ {lr0:g})")
        out.append(f"| {opponent} | {' | '.join(row)} |")
    return "\n".join(out)


def paired(
    results: dict, controller: str, opponent: str, task: str | None = None
) -> dict:
    """Over all cells (or `task`'s), in points: `summarize` of the controller
    minus the opponent (a row's short name, or another controller's row),
    paired, the mean over cells per seed.

    Raises:
      ValueError: naming the run's tasks, if `task` is not one of them.
    """
    if task is not None and task not in results["tasks"]:
        raise ValueError(f"task must be one of {list(results['tasks'])}, got {task!r}")
    cells = [rows for t, _, rows in _cells_at(results, None) if task in (None, t)]
    return summarize(
        100 * np.mean([diff(rows, controller, opponent) for rows in cells], 0)
    )


def worst_cell(results: dict, controller: str, opponent: str) -> tuple:
    """(mean difference, task, initial LR) of the cell where the controller is
    furthest below the opponent (as a fraction, not points)."""
    return min(
        (np.mean(diff(rows, controller, opponent)), task, lr0)
        for task, lr0, rows in _cells_at(results, None)
    )


def goals(results: dict, controller: str) -> str:
    """The suite's goals for `controller` as a table (`goal_rows`)."""
    rows = [
        f"| {goal} | {measured} | {'met' if met else 'missed'} |"
        for goal, measured, met in goal_rows(results, controller)
    ]
    return "\n".join(["| goal | measured | |", "|---|---|---|", *rows])


def goal_rows(results: dict, controller: str) -> list[tuple[str, str, bool]]:
    """The suite's goals for `controller`: (goal, what was measured over all
    initial LRs and tasks, paired, 95% CI over seeds, whether it is met)."""
    prior, cosine = (paired(results, controller, o) for o in ("fixed prior", COSINE))
    free = {
        o: paired(results, controller, o)
        for o in opponents(results)
        if o in LR_FREE_OPTIMIZERS
    }
    best_free = max(free, key=lambda o: -free[o]["mean"])  # the strongest opponent
    worst = worst_cell(results, controller, TUNED)
    by_task = {t: paired(results, controller, COSINE, t) for t in results["tasks"]}
    stretch = [t for t, d in by_task.items() if d["mean"] - d["ci95"] >= 1.0]
    return [
        (
            "1. at least +1 pt over the fixed prior",
            f"{prior['mean']:+.2f} ± {prior['ci95']:.2f} pts",
            prior["mean"] >= 1,
        ),
        (
            "2. at least level with the tuned cosine",
            f"{cosine['mean']:+.2f} ± {cosine['ci95']:.2f} pts",
            cosine["mean"] >= 0,
        ),
        (
            "3. at least +0.5 pt over the best LR-free optimizer",
            f"{free[best_free]['mean']:+.2f} ± {free[best_free]['ci95']:.2f} pts "
            f"vs {best_free}",
            free[best_free]["mean"] >= 0.5,
        ),
        (
            "4. no cell more than 1 pt below the tuned constant",
            f"worst {100 * worst[0]:+.2f} pts ({worst[1]} @ {worst[2]:g})",
            worst[0] >= -0.01,
        ),
        (
            "5. (stretch) +1 pt over the tuned cosine on 2 tasks, CI excluding 0",
            f"{len(stretch)} task(s): {', '.join(stretch) or 'none'} "
            "(one trained controller: no CI over PPO seeds)",
            len(stretch) >= 2,
        ),
    ]


def per_task(results: dict) -> str:
    """Every row of every cell: test accuracy (mean ± 95% CI over seeds),
    paired differences from the untuned constant and the tuned constant, and
    compute (mean inner steps)."""
    out = []
    for task, r in results["tasks"].items():
        out += [
            f"### {task} (tuned constant LR {r['tuned_lr']:g}, tuned cosine peak "
            f"{r['cosine_peak']:g})",
            "",
            "| initial LR | row | test accuracy | vs untuned | vs tuned constant "
            "| compute (inner steps) |",
            "|---|---|---|---|---|---|",
        ]
        for lr0, rows in r["cells"].items():
            for name, row in rows.items():
                test = summarize(row["test_accuracy"])
                short = name.split(" (")[0]
                untuned, tuned = (
                    summarize(diff(rows, short, o)) for o in (UNTUNED, TUNED)
                )
                out.append(
                    f"| {lr0:g} | {name} | {test['mean']:.4f} ± {test['ci95']:.4f} "
                    f"| {untuned['mean']:+.4f} ± {untuned['ci95']:.4f} "
                    f"| {tuned['mean']:+.4f} ± {tuned['ci95']:.4f} "
                    f"| {np.mean(row['compute']):.0f} |"
                )
        out.append("")
    return "\n".join(out)


def task_table(task: dict) -> str:
    """One task's cells (`protocol.compare_task`) as one table: a row per
    initial LR, a column per protocol row; each opponent's mean test accuracy
    (%), then the first controller minus it, paired, ± 95% CI over seeds."""
    cells = task["cells"]
    names = list(next(iter(cells.values())))
    controller = names[0].split(" (")[0]
    header = [
        f"{n} (LR {task['tuned_lr']:g})" if n == TUNED else n
        for n in (c.split(" (")[0] if c.startswith("controller") else c for c in names)
    ]
    out = [
        f"| initial LR | {' | '.join(header)} |",
        "|---|" + "---|" * len(names),
    ]
    for lr0, rows in cells.items():
        entries = [f"{100 * np.mean(rows[names[0]]['test_accuracy']):.1f}"]
        for name in names[1:]:
            gap = summarize(diff(rows, controller, name.split(" (")[0]))
            entries.append(
                f"{100 * np.mean(rows[name]['test_accuracy']):.1f} "
                f"({100 * gap['mean']:+.1f} ± {100 * gap['ci95']:.1f})"
            )
        out.append(f"| {lr0:g} | {' | '.join(entries)} |")
    return "\n".join(out)


def markdown(results: dict) -> str:
    """The whole report: fixed priors, one headline per controller, per task."""
    priors = results["priors"]
    lines = [f"# Suite {results['suite']}: {results['seeds']} paired seeds", ""]
    if run := results.get("provenance"):
        lines += [
            f"Run {run['date']} on {run['machine']}, jax {run['jax']}: "
            f"`{run['command']}`",
            "",
        ]
    if (SUITES / f"{results['suite']}.json").is_file():  # a shipped suite
        total = len(load_suite(results["suite"]).tasks)
        if (done := len(results["tasks"])) < total:
            lines += [
                f"**Partial run: {done} of {total} tasks so far** (its command "
                "resumes it); every figure below is over these tasks only.",
                "",
            ]
    for label, prior in priors.items():
        lines.append(
            f"- fixed prior of {label}: {_prior_lr(prior)} (best mean holdout "
            f"accuracy on its training distribution, {prior['seeds']} seeds)"
        )
    first = _prior_lr(next(iter(priors.values())))
    lines += [
        "",
        f"The fixed-prior row is the first controller's ({first}), for every "
        "controller's table; the others' priors are listed for reference.",
        "",
    ]
    for name in controller_rows(results):
        lines += [
            f"#### {name} minus each opponent, by initial LR (points of test "
            "accuracy, mean over tasks ± 95% CI over seeds)",
            "",
            by_initial_lr(results, name),
            "",
            headline(results, name),
        ]
    return "\n".join(lines) + "\n" + per_task(results)


def _prior_lr(prior: dict) -> str:
    """A fixed prior's LR in words: a steered optimizer's is a multiple."""
    if name := prior.get("optimizer"):
        return f"{name} at {prior['lr']:g}x its default LR"
    return f"LR {prior['lr']:g}"


def readme_block(results: dict, controller: str) -> str:
    """What the README shows between its suite markers, for `controller`: which
    of the suite's goals it meets, its standing against every opponent, and its
    paired differences per initial LR to those it does not beat (points of test
    accuracy, 95% CI over seeds); the goals and full tables are in the suite's
    page."""
    tasks = list(results["tasks"])
    unbeaten = [
        name
        for verdict, names in verdicts(results, controller).items()
        if verdict != "above"
        for name in names
    ]
    rows = goal_rows(results, controller)
    met = [goal.split(".")[0] for goal, _, ok in rows if ok]
    run = results.get("provenance")
    ran = f" (run {run['date']} on {run['machine']})" if run else ""
    return "\n".join(
        [
            f"Suite {results['suite']}{ran}, {results['seeds']} paired seeds, "
            f"{len(tasks)} tasks ({', '.join(tasks)}), {controller}: "
            f"{len(met)} of {len(rows)} goals met ({', '.join(met) or 'none'}; "
            "each goal and its measure in the suite's page).",
            "",
            standing(results, controller),
            "",
            "Points of test accuracy, the controller minus each opponent it does not "
            "beat, mean over tasks ± 95% CI over seeds:",
            "",
            by_initial_lr(results, controller, unbeaten),
        ]
    )


def verdicts(results: dict, controller: str) -> dict[str, list[str]]:
    """The opponents the controller is above, level with, and below over all
    cells (the 95% CI over seeds of the paired difference above, spanning, or
    below 0)."""
    cells = list(_cells_at(results, None))
    out: dict[str, list[str]] = {"above": [], "level with": [], "below": []}
    for opponent in opponents(results):
        s = summarize(
            np.mean([diff(rows, controller, opponent) for _, _, rows in cells], 0)
        )
        low, high = s["mean"] - s["ci95"], s["mean"] + s["ci95"]
        out["above" if low > 0 else "below" if high < 0 else "level with"].append(
            opponent
        )
    return out


def standing(results: dict, controller: str) -> str:
    """One sentence: the opponents the controller beats, those it is level
    with, and those it loses to (`verdicts`)."""
    said = [
        f"{verdict} {', '.join(names)}"
        for verdict, names in verdicts(results, controller).items()
        if names
    ]
    return (
        f"Over all cells, by the 95% CI over seeds, {controller} is "
        + "; ".join(said)
        + "."
    )


def update_readme(readme: pathlib.Path, results: dict, controller: str) -> str:
    """`readme`'s text with the block between its suite markers regenerated."""
    begin, end = (
        f"<!-- suite {results['suite']}: begin -->",
        f"<!-- suite {results['suite']}: end -->",
    )
    text = readme.read_text()
    head, rest = text.split(begin)
    _, tail = rest.split(end)
    return f"{head}{begin}\n{readme_block(results, controller)}\n{end}{tail}"


# The README's wall times: each main command and its committed runs'
# evaluation files (those holding `wall_time_s`), as a glob under the root.
WALL_TIMES = {
    "examples/ppo_mnist.py": "benchmarks/main-example/*.json",
    "examples/meta_train.py": "benchmarks/meta-train/*.json",
    "examples/meta_train.py --recipe meta-mix": "benchmarks/meta-train-mix/*.json",
    "examples/meta_train.py --recipe meta-mix-grouped": (
        "benchmarks/meta-train-mix-grouped/*.json"
    ),
    "examples/meta_train.py --recipe meta-mix-wide": (
        "benchmarks/meta-train-factors/evaluation-mix-grouped-*.json"
    ),
    "examples/meta_train.py --recipe meta-mix-cosine": (
        "benchmarks/meta-train-mix-cosine/*.json"
    ),
    "examples/meta_train.py --recipe meta-mix-schedule-free": (
        "benchmarks/meta-train-mix-schedule-free/*.json"
    ),
}


def wall_times(root: pathlib.Path) -> str:
    """One sentence: each main command's wall time over its committed runs
    (`WALL_TIMES`), the fastest to the slowest on each CPU vector width the
    files name (machines of one kind differ in speed as in float results),
    and the files behind them."""
    said = []
    for command, pattern in WALL_TIMES.items():
        folder, glob = pattern.rsplit("/", 1)
        minutes, names = {}, []
        for path in sorted((root / folder).glob(glob)):
            saved = json.loads(path.read_text())
            if seconds := saved.get("wall_time_s"):
                width = provenance.vector_width(saved.get("machine", ""))
                minutes.setdefault(width, []).append(seconds / 60)
                names.append(path.name)
        spans = []
        for width, times in sorted(minutes.items()):
            low, high = min(times), max(times)
            span = f"{low:.1f}" if len(times) == 1 else f"{low:.1f}-{high:.1f}"
            spans.append(f"{span} min {width}".strip())
        said.append(f"`{command}` {', '.join(spans)} (`{folder}/`: {', '.join(names)})")
    return (
        "Wall times of the committed runs on 2-core CPUs, evaluation included: "
        + "; ".join(said)
        + "."
    )


def rerun_gap(first: dict, rerun: dict) -> tuple[float, float]:
    """The largest |difference| of a cell's mean test accuracy (points) between
    two runs of one evaluation, over the controller rows and over the others."""
    gaps = {True: [0.0], False: [0.0]}
    for lr0, rows in first["cells"].items():
        for name, row in rows.items():
            moved = np.mean(rerun["cells"][lr0][name]["test_accuracy"])
            moved -= np.mean(row["test_accuracy"])
            gaps[name.startswith("controller")].append(100 * abs(float(moved)))
    return max(gaps[True]), max(gaps[False])


def rerun_sentence(folder: pathlib.Path) -> str:
    """How far each committed rerun of the main example (`rerun-*.json`) moved
    from its `evaluation.json`, one clause per rerun."""
    first = from_json((folder / "evaluation.json").read_text())
    said = []
    for path in sorted(folder.glob("rerun-*.json")):
        ours, theirs = rerun_gap(first, from_json(path.read_text()))
        others = "identical" if theirs == 0 else f"within {theirs:.2f} points"
        said.append(
            f"`{path.name}`: the controllers' cells within {ours:.2f} points of "
            f"these, the opponents' {others}"
        )
    return "; ".join(said) + "."


def shipped_table() -> str:
    """The controllers shipped in the package (`controllers.available()`), one
    row each from its own files: its recipe (`recipes.recipe_of`), PPO seed,
    env steps, whether it can stop, and when and on what CPU it trained. An
    ensemble (`controllers.ensemble`) lists its members' seeds and steps."""
    from autotrain_jax import controllers
    from autotrain_jax.experiments.recipes import recipe_of

    lines = [
        "| controller | recipe | PPO seed | env steps | stop action | trained |",
        "|---|---|---|---|---|---|",
    ]
    for name in controllers.available():
        c = controllers.load(name)
        runs = c.runs
        made = runs[0]
        seeds = ", ".join(str(run.get("seed", "?")) for run in runs)
        steps = f"{made.get('env_steps', 0):,}"
        label = f"`{name}` (default)" if name == controllers.DEFAULT else f"`{name}`"
        recipe = recipe_of(c)
        width = provenance.vector_width(made.get("machine", ""))
        lines.append(
            f"| {label} | {f'`{recipe}`' if recipe else '—'} | {seeds} "
            f"| {f'{len(runs)} × {steps}' if len(runs) > 1 else steps} "
            f"| {'no' if 'stop' in c.disabled else 'yes'} "
            f"| {made.get('date', '?')}{', ' + width if width else ''} |"
        )
    return "\n".join(lines)


def update_wall_times(readme: pathlib.Path) -> str:
    """`readme`'s text with its generated blocks (the wall times, the rerun
    sentence and the shipped controllers' table) regenerated from the
    committed runs beside it and the package's controllers."""
    text = _replace_block(readme.read_text(), "wall times", wall_times(readme.parent))
    folder = readme.parent / WALL_TIMES["examples/ppo_mnist.py"].rsplit("/", 1)[0]
    text = _replace_block(text, "rerun", rerun_sentence(folder))
    return _replace_block(text, "shipped controllers", shipped_table())


def _replace_block(text: str, marker: str, body: str) -> str:
    begin, end = f"<!-- {marker}: begin -->", f"<!-- {marker}: end -->"
    head, rest = text.split(begin)
    _, tail = rest.split(end)
    return f"{head}{begin}\n{body}\n{end}{tail}"


# A page's evaluate table: `<!-- NAME: generated from FILE -->`, the table,
# `<!-- end NAME -->`, FILE an `autotrain-jax evaluate --json` output.
TABLE_BEGIN = r"<!-- (?P<name>[^:>]+): generated from (?P<file>\S+\.json) -->\n"
TABLE_BLOCK = re.compile(
    rf"(?P<begin>{TABLE_BEGIN})(?:.*?\n)??(?P<end><!-- end (?P=name) -->)", re.S
)


def update_tables(page: pathlib.Path, root: pathlib.Path) -> str:
    """`page`'s text with every generated block regenerated from its file (a
    path relative to `root`): each evaluate table (`TABLE_BLOCK`) as
    `task_table`, each rule block (`RULE_BLOCK`) as `rule`; a block may be
    empty.

    Raises:
      ValueError: if a begin marker has no end marker of its name after it
        (its block would otherwise silently stay as it was).
    """
    text = page.read_text()
    for begin, block in ((TABLE_BEGIN, TABLE_BLOCK), (RULE_BEGIN, RULE_BLOCK)):
        ended = {m["name"] for m in block.finditer(text)}
        if unended := [
            m["name"] for m in re.finditer(begin, text) if m["name"] not in ended
        ]:
            raise ValueError(
                f"{page}: the blocks {unended} have no '<!-- end NAME -->' marker"
            )

    def table(match: re.Match) -> str:
        results = from_json((root / match["file"]).read_text())
        return f"{match['begin']}{task_table(results)}\n{match['end']}"

    def applied(match: re.Match) -> str:
        results = from_json((root / match["file"]).read_text())
        seeds = tuple((match["seeds"] or "").split())
        body = rule(results, match["candidate"], match["reference"], seeds)
        return f"{match['begin']}{body}\n{match['end']}"

    return RULE_BLOCK.sub(applied, TABLE_BLOCK.sub(table, text))


def rule(
    results: dict, candidate: str, reference: str, seeds: tuple[str, ...] = ()
) -> str:
    """The switching rule fixed before a suite ran, applied to its results:
    the `candidate` controller replaces the `reference` if (a) it is nearer
    the tuned cosine (goal 2's mean), (b) so is the mean of its recipe's
    `seeds` (the candidate among them; skipped if none are given), and (c)
    its worst cell against the tuned constant (goal 4) is no lower. Names are
    controller rows without "controller ". Markdown bullets, then the verdict.

    Raises:
      ValueError: naming the run's controllers, if a name is not one of them.
    """
    name = {c: f"controller {c}" for c in (candidate, reference, *seeds)}
    ran = [row.removeprefix("controller ") for row in controller_rows(results)]
    if unknown := [c for c in name if c not in ran]:
        raise ValueError(f"controllers must be among {ran}, got {unknown}")
    goal2 = {c: paired(results, name[c], COSINE) for c in name}
    worst = {c: worst_cell(results, name[c], TUNED) for c in (candidate, reference)}

    def cell(c):
        return f"{100 * worst[c][0]:+.2f} ({worst[c][1]} @ {worst[c][2]:g})"

    nearer = goal2[candidate]["mean"] > goal2[reference]["mean"]
    recipe = np.mean([goal2[c]["mean"] for c in seeds]) if seeds else None
    holds = {"a": nearer, "c": worst[candidate][0] >= worst[reference][0]}
    lines = [
        f"- (a) goal 2, {candidate} minus the tuned cosine: "
        f"{goal2[candidate]['mean']:+.2f} ± {goal2[candidate]['ci95']:.2f} points, "
        f"{reference}'s {goal2[reference]['mean']:+.2f} ± "
        f"{goal2[reference]['ci95']:.2f}: {'nearer' if nearer else 'not nearer'};"
    ]
    if seeds:
        holds["b"] = recipe > goal2[reference]["mean"]
        means = ", ".join(f"{goal2[c]['mean']:+.2f}" for c in seeds)
        lines.append(
            f"- (b) the recipe's seeds' goal-2 means ({', '.join(seeds)}): {means}, "
            f"average {recipe:+.2f}: {'nearer' if holds['b'] else 'not nearer'};"
        )
    lines.append(
        f"- (c) goal 4, the worst cell against the tuned constant: {candidate}'s "
        f"{cell(candidate)}, {reference}'s {cell(reference)}: "
        f"{'not lower' if holds['c'] else 'lower'}."
    )
    versus = paired(results, name[candidate], name[reference])
    lines.append(
        f"- Paired with {reference} over all cells: {versus['mean']:+.2f} ± "
        f"{versus['ci95']:.2f} points."
    )
    failed = [k for k in sorted(holds) if not holds[k]]
    verdict = (
        f"every condition holds: {candidate} replaces {reference}"
        if not failed
        else f"{' and '.join(f'({k})' for k in failed)} "
        f"fail{'s' if len(failed) == 1 else ''}: {reference} stays"
    )
    return "\n".join([*lines, "", f"**By the rule, {verdict}.**"])


# A page's rule block: `<!-- NAME: rule on FILE, CANDIDATE over REFERENCE
# [seeds A B C] -->`, `rule`'s text, `<!-- end NAME -->`; FILE a suite.json.
RULE_BEGIN = (
    r"<!-- (?P<name>[^:>]+): rule on (?P<file>\S+\.json), (?P<candidate>\S+) over "
    r"(?P<reference>\S+)(?: seeds (?P<seeds>[^>]+?))? -->\n"
)
RULE_BLOCK = re.compile(
    rf"(?P<begin>{RULE_BEGIN})(?:.*?\n)??(?P<end><!-- end (?P=name) -->)", re.S
)


def write(results: dict, out: pathlib.Path) -> None:
    """suite.json (every seed, every grid row) and suite.md into `out`; the
    page is rendered from what the JSON holds, so that rerendering it from the
    file gives the same page (a mean on a rounding edge could otherwise differ
    in its last shown digit)."""
    out.mkdir(parents=True, exist_ok=True)
    saved = to_json(results)
    (out / "suite.json").write_text(saved)
    (out / "suite.md").write_text(markdown(from_json(saved)))


def main(argv=None) -> None:
    """python -m autotrain_jax.experiments.report [FOLDER] [--readme README.md
    [--controller NAME]] [--tables PAGE ...]: rewrites FOLDER/suite.md (and
    the README's suite block, of NAME, default the run's first controller)
    from suite.json, and each PAGE's evaluate tables from their files (paths
    relative to the current folder, the repository's root)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__.split(":")[0])
    parser.add_argument("folder", type=pathlib.Path, nargs="?")
    parser.add_argument("--readme", type=pathlib.Path, default=None)
    parser.add_argument("--controller", default=None)
    parser.add_argument("--tables", type=pathlib.Path, nargs="+", default=[])
    args = parser.parse_args(argv)
    for page in args.tables:
        page.write_text(update_tables(page, pathlib.Path.cwd()))
    if args.folder is None:
        return
    results = from_json((args.folder / "suite.json").read_text())
    (args.folder / "suite.md").write_text(markdown(results))
    if args.readme is not None:
        ran = controller_rows(results)
        named = f"controller {args.controller}"
        controller = ran[0] if args.controller is None else named
        if controller not in ran:
            parser.error(f"--controller must be one of {ran}, got {args.controller!r}")
        args.readme.write_text(update_readme(args.readme, results, controller))
        args.readme.write_text(update_wall_times(args.readme))


if __name__ == "__main__":
    main()
