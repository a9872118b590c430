"""The legacy 5-tuple wrapper and the episode log."""

import csv

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

import autotrain_jax as at
from autotrain_jax import actions
from autotrain_jax.episode_log import episode_rows, plot_episode, write_csv
from autotrain_jax.rollout import rollout


def test_legacy_wrapper_returns_five_tuple_with_both_flags(tiny):
    env, params, _, _ = tiny
    legacy = at.LegacyWrapper(env)
    obs, state = legacy.reset(jax.random.key(0), params)
    stop = actions.stop(env.config)
    obs, state, reward, done, info = jax.jit(legacy.step)(
        jax.random.key(1), state, stop, params
    )
    assert bool(done) and bool(info["terminated"]) and not bool(info["truncated"])
    assert legacy.num_actions == env.num_actions  # attributes pass through


def test_episode_log_csv_and_plot(tiny, tmp_path):
    env, params, _, _ = tiny
    horizon = int(params.max_steps_in_episode)

    keep, stop = actions.keep(env.config), actions.stop(env.config)
    rewind = keep + 1  # full set: LR x1 and rewind 1

    def policy(key, obs):  # keep, keep, rewind 1, stop
        t = jnp.sum(jnp.any(obs != 0, axis=1))
        return jnp.select([t >= 3, t == 2], [stop, rewind], keep)

    log, final = jax.jit(lambda key: rollout(env, params, policy, key, horizon + 2))(
        jax.random.key(0)
    )
    assert int(final.time) == 4  # frozen at the stop
    rows = episode_rows(log)
    assert [row["t"] for row in rows] == [0, 1, 2, 3]
    assert rows[-1]["action"] == "stop" and rows[2]["action"] == "lr x1, rewind 1"
    assert rows[0]["action"] == "lr x1" and rows[-1]["inner_steps"] == 0
    np.testing.assert_allclose(
        [row["score"] for row in rows], np.asarray(log["score"])[: len(rows)]
    )
    write_csv(rows, tmp_path / "episode.csv")
    with open(tmp_path / "episode.csv") as file:
        read = list(csv.DictReader(file))
    assert list(read[0]) == ["t", "score", "reward", "action", "inner_steps", "lr"]
    assert len(read) == len(rows)
    backend = matplotlib.get_backend()
    matplotlib.use("svg")  # the caller's choice: plotting must not switch it
    try:
        plot_episode(log, tmp_path / "episode.png")
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(backend)
    assert (tmp_path / "episode.png").stat().st_size > 10_000
