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
    """A script of the repository (e.g. "benchmarks/variants.py") as a module, so
    that a test can call its `main` in-process instead of paying a new process's
    imports and compiles."""
    path = ROOT / relative_path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def doc_snippets(page: str, heading: str) -> list[str]:
    """The ```python blocks of the section of `page` (a file under docs/, or
    README.md) whose `##` heading starts with `heading`, up to the next `##`
    heading, so that a test runs them as a reader would."""
    path = ROOT / page if page == "README.md" else ROOT / "docs" / page
    text = path.read_text()
    start = text.index(f"\n## {heading}")
    end = text.find("\n## ", start + 1)
    section = text[start : len(text) if end == -1 else end]
    return [block.split("```")[0] for block in section.split("```python\n")[1:]]


def untrained_controller(**settings):
    """The default controller's settings with `settings` on top, and a fresh
    network (no observation normaliser) for their observation's shape: for
    observation features no shipped controller was trained with."""
    import dataclasses

    import jax.numpy as jnp

    from autotrain_jax import actions, controllers
    from autotrain_jax.agents.ppo import networks

    base = controllers.load(controllers.DEFAULT)
    config = dataclasses.replace(base.env_config, **settings)
    ppo = dataclasses.replace(base.ppo_config, normalize_obs=False)
    network = networks.ActorCritic(actions.num_actions(config), False, ppo.hidden)
    obs = jnp.zeros((config.history, config.record_size))
    stats = base.obs_stats
    if base.members > 1:
        stats = jax.tree.map(lambda leaf: leaf[0], stats)
    return dataclasses.replace(
        base,
        settings={**base.settings, **settings},
        env_config=config,
        ppo_config=ppo,
        agent_params=network.init(jax.random.key(0), obs),
        obs_stats=stats,  # unused (normalize_obs=False), one member's shape
        members=1,  # one fresh network, whatever the default pools
        disabled=(),
    )
