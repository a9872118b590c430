"""How fast a meta-training recipe gathers experience: PPO's seconds per update
(compile excluded) and the env alone on the recipe's task distribution, with
`control_flow.when` computing fresh weights for the asking envs only (the
default share) or for the whole batch at once (share 1, as before); and, for a
recipe that draws the inner optimizer per episode, the same recipe with each
named optimizer alone (`--alone`): under `vmap` every member of the set steps;
and the recipe with its batch grouped by optimizer (`--grouped`,
`PPOConfig.group_envs`), each group stepping its own member only.

    python benchmarks/recipe_speed.py                      # ~8 min on 2 CPU cores
    python benchmarks/recipe_speed.py --out recipe-speed.json  # + .md beside
    python benchmarks/recipe_speed.py --recipe meta-mix --shares 8 --grouped \
        --alone momentum,adam --out recipe-speed-mix.json

Every program is compiled first; then `--repeats` rounds time each once in
turn (`throughput.interleaved`), and medians are reported. PPO runs its first
`--updates` updates from a fresh agent, whose policy is near uniform: some env
re-initialises or stops on most steps, as early in a real run. The env alone
takes uniformly random actions of the recipe's action set.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import jax

import autotrain_jax as at
from autotrain_jax import control_flow, vector
from autotrain_jax.agents.ppo import PPOConfig, make_train
from autotrain_jax.config import check_optimizer
from autotrain_jax.experiments import recipes
from autotrain_jax.experiments.provenance import machine
from autotrain_jax.experiments.throughput import env_rollout, interleaved

GROUPED = "grouped by optimizer"


def programs(
    recipe: dict, updates: int, share: int, label: str, overrides: dict, ppo: dict
):
    """({name: (compiled, args)}, chunk, compile seconds of both): `updates`
    PPO updates, and as many env steps alone, with `when` gathering `1/share`
    of the batch (`chunk` envs) at a time, the recipe's env with `overrides`
    and its PPOConfig fields with `ppo`."""
    control_flow.SHARE = share  # read while tracing, below
    env, params = at.make_env(
        "tiny",
        action_set=recipe["action_set"],
        reward=recipe["reward"],
        **(recipe["env"] | overrides),
    )
    config = PPOConfig(
        num_envs=recipe["num_envs"],
        num_steps=recipe["num_steps"],
        num_updates=updates,
        **recipe.get("ppo", {}) | ppo,
    )
    key = jax.random.key(0)
    num_envs = recipe["num_envs"]
    batch = vector.batched(env, num_envs, config.group_envs)
    _, state = batch.reset(jax.random.split(key, num_envs), params)
    rollout = env_rollout(
        env, num_envs, recipe["num_steps"] * updates, grouped=config.group_envs
    )
    start = time.perf_counter()
    ppo = jax.jit(make_train(config, env)).lower(key, params).compile()
    alone = jax.jit(rollout).lower(state, key, params).compile()
    compile_s = time.perf_counter() - start
    runs = {
        f"ppo/{label}": (ppo, (key, params)),
        f"env/{label}": (alone, (state, key, params)),
    }
    # `when` gathers within each vmapped batch: a group's, when grouped
    groups = (
        env.batch_groups(num_envs) if config.group_envs else ((range(num_envs), env),)
    )
    smallest = min(len(rows) for rows, _ in groups)
    return runs, control_flow.chunk_size(smallest), compile_s


def measure(args) -> dict:
    recipe = recipes.RECIPES[args.recipe]
    default_share = control_flow.SHARE
    variants = [(f"share 1/{share}", share, {}, {}) for share in args.shares]
    if args.grouped:
        grouped = {"group_envs": True}
        variants.append((GROUPED, default_share, {}, grouped))
    variants += [
        (f"{name} alone", default_share, {"optimizer": name}, {}) for name in args.alone
    ]
    runs, chunks, compile_s = {}, {}, {}
    try:
        for label, share, overrides, ppo in variants:
            compiled, chunks[label], compile_s[label] = programs(
                recipe, args.updates, share, label, overrides, ppo
            )
            runs |= compiled
    finally:
        control_flow.SHARE = default_share
    seconds = interleaved(runs, args.repeats)
    steps = recipe["num_envs"] * recipe["num_steps"] * args.updates
    run_steps = recipe["num_envs"] * recipe["num_steps"] * recipe["num_updates"]
    rows = []
    for label, share, *_ in variants:
        ppo, env = seconds[f"ppo/{label}"], seconds[f"env/{label}"]
        rows.append(
            {
                "variant": label,
                "share": share,
                "chunk": chunks[label],
                "ppo_env_steps_per_s": steps / ppo,
                "env_steps_per_s": steps / env,
                "ppo_over_env": env / ppo,
                "minutes_per_run": run_steps / (steps / ppo) / 60,
                "compile_s": compile_s[label],
            }
        )
    return {
        "command": "python recipe_speed.py " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d"),
        "hardware": machine(),
        "jax": jax.__version__,
        "recipe": args.recipe,
        "settings": {
            k: v
            for k, v in recipe.items()
            if k in ("num_envs", "num_steps", "env", "ppo")
        },
        "updates": args.updates,
        "repeats": args.repeats,
        "rows": rows,
    }


def markdown(report: dict) -> str:
    recipe = report["settings"]
    lines = [
        f"Hardware: {report['hardware']}; jax {report['jax']}; {report['date']}",
        f"Command: `{report['command']}`",
        f"Recipe `{report['recipe']}`: {recipe['num_envs']} envs x "
        f"{recipe['num_steps']} steps per update; PPO's first {report['updates']} "
        f"updates, median of {report['repeats']} interleaved rounds. *Share*: "
        "`when` computes fresh weights for the asking envs, this fraction of the "
        "batch (*chunk* envs) at a time (1: the whole batch at once). *Alone*: "
        "the recipe with that inner optimizer only."
        + (
            " *Grouped*: the batch stepped by optimizer (`PPOConfig.group_envs`), "
            "each group running its own member only (*chunk*: in each group)."
            if any(row.get("variant") == GROUPED for row in report["rows"])
            else ""
        ),
        "",
        "| variant | chunk | PPO env steps/s | env alone steps/s | PPO / env | "
        "min per 1.024M steps | compile s (both) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        variant = row.get("variant", f"share 1/{row['share']}")  # older files
        lines.append(
            f"| {variant} | {row['chunk']} | {row['ppo_env_steps_per_s']:.0f} "
            f"| {row['env_steps_per_s']:.0f} | {row['ppo_over_env']:.2f} "
            f"| {row['minutes_per_run']:.1f} | {row['compile_s']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def _optimizers(text: str) -> list[str]:
    try:
        return list(check_optimizer(tuple(text.split(","))))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--recipe", choices=sorted(recipes.RECIPES), default="meta-tiny"
    )
    parser.add_argument("--updates", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--shares",
        type=lambda text: [int(s) for s in text.split(",")],
        default=[1, control_flow.SHARE],
        help="comma-separated: 1 (the whole batch) and 1/share of it",
    )
    parser.add_argument(
        "--alone",
        type=_optimizers,
        default=[],
        help="comma-separated inner optimizers, each run alone in the recipe",
    )
    parser.add_argument(
        "--grouped",
        action="store_true",
        help="add the recipe with its batch grouped by inner optimizer",
    )
    parser.add_argument("--out", default=None, help="JSON path; .md written beside")
    args = parser.parse_args(argv)
    report = measure(args)
    text = markdown(report)
    print(text)
    if args.out:
        out = pathlib.Path(args.out)
        out.write_text(json.dumps(report, indent=1) + "\n")
        out.with_suffix(".md").write_text(text)


if __name__ == "__main__":
    main()
