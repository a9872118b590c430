"""Guarantees: odd configurations and actions, no test-split leak, crash safety."""

import dataclasses
import itertools
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import autotrain_jax as at
from autotrain_jax.actions import validate_action
from autotrain_jax.rollout import rollout

HERE = pathlib.Path(__file__).parent
SPLITS = ("train", "holdout", "test")


@settings(  # examples: the profile's (tests/conftest.py); ~10 s each on 2 cores
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    history=st.integers(1, 4),
    num_losses=st.integers(1, 3),
    loss_every=st.integers(1, 3),
    action_set=st.sampled_from(at.config.ACTION_SETS),
    reward=st.sampled_from(at.config.REWARDS),
    observation=st.sampled_from(at.config.OBSERVATIONS),
    optimizer=st.sampled_from(at.config.OPTIMIZERS),
    rewind_past_oldest=st.sampled_from(at.config.REWIND_PAST_OLDEST),
    warm_start=st.booleans(),
    observe_task=st.booleans(),
    observe_update=st.booleans(),
    observe_optimizer=st.booleans(),
    initial_lr=st.floats(1e-4, 1.0) | st.tuples(st.floats(1e-4, 0.1), st.just(1.0)),
    budget=st.integers(1, 6) | st.tuples(st.just(1), st.integers(1, 6)),
    train_size=st.none() | st.tuples(st.integers(1, 64), st.integers(64, 512)),
    widths=st.none() | st.integers(1, 32).map(lambda low: ((low, 32),)),
    label_noise=st.none() | st.floats(0.0, 0.8) | st.tuples(st.just(0.0), st.just(0.8)),
    model=st.sampled_from(at.config.MODELS),
    combined=st.booleans(),
    diverge=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_any_valid_setting_and_actions_stay_finite_with_fixed_shapes(
    tiny,
    history,
    num_losses,
    loss_every,
    action_set,
    reward,
    observation,
    optimizer,
    rewind_past_oldest,
    warm_start,
    observe_task,
    observe_update,
    observe_optimizer,
    initial_lr,
    budget,
    train_size,
    widths,
    label_noise,
    model,
    combined,
    diverge,
    seed,
):
    env, params, _, _ = tiny
    config = dataclasses.replace(
        env.config,
        history=history,
        inner_steps=num_losses * loss_every,
        loss_every=loss_every,
        action_set=action_set,
        reward=reward,
        observation=observation,
        optimizer=optimizer,
        rewind_past_oldest=rewind_past_oldest,
        warm_start=warm_start,
        observe_task=observe_task,
        observe_update=observe_update,
        observe_optimizer=observe_optimizer,
        model=model,
        batch_size=8,
        eval_batch_size=16,
    )
    params = params.replace(
        initial_lr=initial_lr,
        lr_max=1.0,
        max_steps_in_episode=budget,
        train_subset_size=train_size,
        hidden_widths=widths if model == "mlp" else None,
        label_noise=label_noise,
        data=_two_datasets(params.data) if combined else params.data,
    )
    if diverge:  # an LR that blows the weights up at once
        params = params.replace(initial_lr=1e3, lr_max=1e6)
    _steps_stay_finite(at.AutoTrainEnv(config, params), params, seed)
    if next(_FUZZ_EXAMPLES) % 20 == 0:
        # Each example compiles its own programs, and each compiled program
        # keeps memory mappings (8 examples: ~10,000): after ~100 examples the
        # thorough profile reached vm.max_map_count (65530) and XLA's LLVM
        # aborted ("Cannot allocate memory"). The default 8 never clear, so the
        # rest of the worker's tests keep their compiled programs.
        jax.clear_caches()


_FUZZ_EXAMPLES = itertools.count(1)


def _two_datasets(mnist):
    """Embedded MNIST and its inverted images, joined by `data.combine`."""
    inverted = {f"{split}_x": 255 - getattr(mnist, f"{split}_x") for split in SPLITS}
    return at.data.combine([mnist, mnist.replace(mean=255 - mnist.mean, **inverted)])


@pytest.mark.parametrize("reward", at.config.REWARDS)
@pytest.mark.parametrize("action_set", at.config.ACTION_SETS)
def test_every_action_set_and_reward_pair_stays_finite(tiny, action_set, reward):
    """Each pair for certain (the fuzz above draws only some), with label noise
    and two datasets per episode."""
    env, params, _, _ = tiny
    config = dataclasses.replace(
        env.config, action_set=action_set, reward=reward, inner_steps=5
    )
    params = params.replace(
        label_noise=(0.0, 0.5), data=_two_datasets(params.data), lr_max=1.0
    )
    _steps_stay_finite(at.AutoTrainEnv(config, params), params, seed=0, steps=3)


def _steps_stay_finite(env, params, seed: int, steps: int = 6) -> None:
    """Random, out-of-range and non-finite actions: observations, rewards and
    weights stay finite, with the env's shapes, and the step traces once."""
    config = env.config
    chex.clear_trace_counter()

    @chex.assert_max_traces(n=1)
    def step(key, state, action, params):
        return env.step(key, state, action, params)

    step = jax.jit(step)
    obs, state = env.reset(jax.random.key(seed), params)
    space = env.action_space()
    for t in range(steps):
        key = jax.random.fold_in(jax.random.key(seed), t)
        action = space.sample(key)
        if config.action_set == "continuous":  # also out of the box, NaN and inf
            bad = (action * 3.0, action.at[0].set(jnp.nan), action.at[1].set(jnp.inf))
            action = bad[t % 3] if t % 2 else action
        elif t % 2:  # out-of-range ids
            action = action + (-1) ** t * env.num_actions
        obs, state, reward_t, terminated, truncated, info = step(
            key, state, action, params
        )
        chex.assert_shape(obs, (config.history, config.record_size))
        assert obs.dtype == jnp.float32 and reward_t.dtype == jnp.float32
        chex.assert_tree_all_finite((obs, reward_t, state.weights, info["score"]))


def test_invalid_discrete_and_continuous_actions_are_clipped_and_flagged(tiny):
    env, params, reset, step = tiny
    _, state = reset(jax.random.key(0), params)
    for action in (jnp.int32(-4), jnp.int32(999)):
        obs, _, reward, _, info = step(jax.random.key(1), state, action, params)
        assert bool(info["invalid"]) and np.isfinite(obs).all() and np.isfinite(reward)
    assert bool(info["stop"])  # 999 clipped to the last id, stop
    config = dataclasses.replace(env.config, action_set="continuous")
    control = at.decode(jnp.array([jnp.nan, 5.0, -jnp.inf, 0.0]), params, config)
    assert bool(control.invalid) and float(control.lr_factor) == 1.0
    assert int(control.rewind) == config.history - 1 and not bool(control.reinit)
    continuous = at.AutoTrainEnv(config, params)
    _, state = continuous.reset(jax.random.key(0), params)
    step_continuous = jax.jit(continuous.step_env)
    for action in ([jnp.nan, 5.0, -jnp.inf, 0.0], [0.0, 0.0, 0.0, jnp.inf]):
        obs, _, reward, _, info = step_continuous(
            jax.random.key(1), state, jnp.array(action), params
        )
        assert bool(info["invalid"]) and np.isfinite(obs).all() and np.isfinite(reward)
    assert bool(info["stop"])  # inf clipped to 1: stop
    *_, info = step_continuous(jax.random.key(1), state, jnp.zeros(4), params)
    assert not bool(info["invalid"])


@pytest.mark.parametrize(
    ("action", "action_set", "message"),
    [
        (11, "full", r"\[0, 11\)"),
        (-1, "reduced", r"\[0, 7\)"),
        (1.5, "full", "integer id"),
        ([0.0, 2.0, 0.0, 0.0], "continuous", r"\[-1, 1\]"),
        ([0.0, np.nan, 0.0, 0.0], "continuous", "finite"),
        ([0.0, 0.0], "continuous", r"shape \(4,\)"),
    ],
)
def test_host_side_action_validation(action, action_set, message):
    config = at.EnvConfig(history=3, action_set=action_set)
    with pytest.raises(ValueError, match=message):
        validate_action(action, config)
    validate_action(np.zeros(4) if action_set == "continuous" else 0, config)


def test_test_split_labels_never_reach_observations_rewards_or_actions(tiny):
    env, params, _, _ = tiny
    scrambled = params.replace(
        data=params.data.replace(
            test_x=255 - params.data.test_x, test_y=(params.data.test_y + 3) % 10
        )
    )

    def policy(key, obs):  # reacts to the observation, so a leak would change actions
        return jnp.where(obs[-1, 0] > 1.0, 5, 4 + jnp.int32(obs.sum() * 1e3) % 3)

    run = jax.jit(lambda p: rollout(env, p, policy, jax.random.key(0), 8))
    (log, state), (log_scrambled, state_scrambled) = run(params), run(scrambled)
    chex.assert_trees_all_equal(log, log_scrambled)
    chex.assert_trees_all_equal(state, state_scrambled)
    assert float(env.accuracy(state, params)) != float(env.accuracy(state, scrambled))


def _ppo_run(directory, result_path, sleep=0.0, **extra_env):
    command = [
        sys.executable,
        str(HERE / "crash_run.py"),
        str(directory),
        str(result_path),
    ]
    environ = {**os.environ, "CRASH_RUN_SLEEP": str(sleep), **extra_env}
    log = open(pathlib.Path(directory).with_suffix(".log"), "a")  # noqa: SIM115
    return subprocess.Popen(command, env=environ, stdout=log, stderr=subprocess.STDOUT)


def _complete_checkpoints(directory: pathlib.Path) -> list[str]:
    """Finalised orbax checkpoints (temporary ones carry a suffix until renamed)."""
    if not directory.exists():
        return []
    return [p.name for p in directory.iterdir() if p.name.isdigit()]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The checkpointed PPO run, never killed: its result JSON, less
    `resumed_from` (None)."""
    folder = tmp_path_factory.mktemp("whole")
    whole = _ppo_run(folder / "run", folder / "whole.json")
    assert whole.wait(timeout=300) == 0, (folder / "run.log").read_text()[-2000:]
    result = json.loads((folder / "whole.json").read_text())
    assert result.pop("resumed_from") is None
    return result


def _resumed(result_path: pathlib.Path) -> tuple[int, dict]:
    """A resumed run's result: (the step it restored, the rest)."""
    result = json.loads(result_path.read_text())
    return result.pop("resumed_from"), result


def test_run_killed_with_sigkill_resumes_to_the_uninterrupted_result(
    tmp_path, uninterrupted
):
    victim = _ppo_run(tmp_path / "killed", tmp_path / "unused.json", sleep=3.0)
    deadline = time.time() + 240  # kill once at least one checkpoint is complete
    while time.time() < deadline and not _complete_checkpoints(tmp_path / "killed"):
        time.sleep(0.1)
    time.sleep(float(np.random.default_rng().uniform(0.0, 2.0)))
    assert victim.poll() is None, "the run ended before it could be killed"
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=60)
    assert victim.returncode == -signal.SIGKILL
    assert not (tmp_path / "unused.json").exists()
    complete = max(map(int, _complete_checkpoints(tmp_path / "killed")))
    resumed = _ppo_run(tmp_path / "killed", tmp_path / "resumed.json")
    assert resumed.wait(timeout=300) == 0, (tmp_path / "killed.log").read_text()[-2000:]
    step, result = _resumed(tmp_path / "resumed.json")
    assert step == complete  # restored, not rerun from scratch
    assert result == uninterrupted


def test_run_killed_during_a_checkpoint_write_resumes_from_the_last_complete_one(
    tmp_path, uninterrupted
):
    folder, marker = tmp_path / "killed", tmp_path / "stalled"
    victim = _ppo_run(
        folder,
        tmp_path / "unused.json",
        CRASH_RUN_STALL_AT="2",
        CRASH_RUN_MARKER=str(marker),
    )
    deadline = time.time() + 240
    while time.time() < deadline and not marker.exists() and victim.poll() is None:
        time.sleep(0.1)
    assert marker.exists(), (tmp_path / "killed.log").read_text()[-2000:]
    writing = pathlib.Path(marker.read_text())
    assert writing.exists() and any(writing.iterdir())  # the write is under way
    assert _complete_checkpoints(folder) == ["2"]  # the first one is complete
    victim.send_signal(signal.SIGKILL)
    assert victim.wait(timeout=60) == -signal.SIGKILL
    resumed = _ppo_run(folder, tmp_path / "resumed.json")
    assert resumed.wait(timeout=300) == 0, (tmp_path / "killed.log").read_text()[-2000:]
    assert _resumed(tmp_path / "resumed.json") == (2, uninterrupted)
