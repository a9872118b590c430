"""Helpers shared by several test modules (fixtures live in conftest.py)."""

import importlib.util
import pathlib

import jax

import autotrain_jax as at
from autotrain_jax.agents.ppo import PPOConfig, run

ROOT = pathlib.Path(__file__).parents[1]


def checkpointed_run(directory, num_updates: int = 8, num_envs: int = 4):
    """The tiny PPO run, checkpointed every 2 updates: (runner, metric rows)."""
    env, params = at.make_env("tiny")
    config = PPOConfig(num_envs=num_envs, num_steps=4, num_updates=num_updates)
    runner, rows, _ = run.train_in_chunks(
        config,
        env,
        params,
        jax.random.key(0),
        checkpoint_dir=directory,
        checkpoint_every=2,
        progress=False,
    )
    return runner, rows


def load_script(relative_path: str):
    """A script of the repository (e.g. "benchmarks/compare.py") as a module, so
    that a test can call its `main` in-process instead of paying a new process's
    imports and compiles."""
    path = ROOT / relative_path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def readme_snippets(heading: str) -> list[str]:
    """The ```python blocks of README.md's section whose heading starts with
    `heading`, so that a test runs them as a reader would."""
    text = (ROOT / "README.md").read_text()
    start = text.index(f"\n### {heading}")
    ends = [text.find(mark, start + 1) for mark in ("\n## ", "\n### ")]
    section = text[start : min((e for e in ends if e != -1), default=len(text))]
    return [block.split("```")[0] for block in section.split("```python\n")[1:]]
