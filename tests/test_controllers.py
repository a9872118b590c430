"""Shipped and saved controllers: load, rebuild their env, act."""

import dataclasses
import json
import pathlib
import re
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import autotrain_jax as at
from autotrain_jax import actions as at_actions
from autotrain_jax import cli, controllers
from autotrain_jax.agents.ppo import networks
from autotrain_jax.experiments.train import checkpoint_controller
from autotrain_jax.rollout import rollout

ROOT = pathlib.Path(__file__).parent.parent


def test_a_saved_run_round_trips_and_acts_as_trained(tiny_ppo_run, tmp_path):
    out, _, _ = tiny_ppo_run
    controller = controllers.load(out)
    env, params = controller.make_env()
    assert env.config == controller.env_config
    obs, _ = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(jax.random.key(0), 5), params
    )
    act = jax.jit(controller.policy)
    actions = act(None, obs)
    assert actions.shape == (5,) and actions.dtype == jnp.int32
    np.testing.assert_array_equal(actions, jax.vmap(controller.policy)(None, obs))
    copy = controllers.load(controller.save(tmp_path / "copy"))
    np.testing.assert_array_equal(jax.jit(copy.policy)(None, obs), actions)
    assert copy.settings == controller.settings
    assert act._cache_size() == 1  # one trace for both calls


def test_overrides_change_the_task_not_what_the_agent_sees(tiny_ppo_run):
    controller = controllers.load(tiny_ppo_run[0])
    env, params = controller.make_env(initial_lr=1e-4, max_steps_in_episode=20)
    assert float(params.initial_lr) == pytest.approx(1e-4)
    assert params.max_steps_in_episode == 20
    with pytest.raises(ValueError, match=r"history: 3 \(trained\), 4 \(env\)"):
        controller.make_env(history=4)
    with pytest.raises(ValueError, match="action_set"):
        controller.make_env(action_set="reduced")
    trained = controller.env_config
    for setting, value in [  # the same shape, other features
        (
            "observation",
            "extended" if trained.observation != "extended" else "original",
        ),
        ("inner_steps", 2 * trained.inner_steps),
        ("loss_every", trained.inner_steps),
    ]:
        with pytest.raises(ValueError, match=f"{setting}: "):
            controller.make_env(**{setting: value})


def test_label_noise_of_meta_training_stays_out_of_a_users_env():
    shipped = controllers.load("meta-tiny-v1-nostop")
    assert shipped.settings["label_noise"] == (0.0, 0.8)
    assert shipped.disabled == ("stop",)
    _, params = shipped.make_env(train_size=256)
    assert params.label_noise is None  # the user's labels as they are
    _, params = shipped.make_env(augmented=True, train_size=256)
    assert params.label_noise == (0.0, 0.8)  # its training distribution


def test_unknown_names_are_refused_with_the_known_ones(tmp_path):
    with pytest.raises(ValueError, match="must be one of .* or a folder with"):
        controllers.load(tmp_path / "nothing-here")
    for name in controllers.available():  # what the package ships loads
        assert all(run["env_steps"] > 0 for run in controllers.load(name).runs)


def test_a_checkpoint_gives_the_controller_of_that_update(tiny_ppo_run):
    out = tiny_ppo_run[0]
    final, newest = controllers.load(out), checkpoint_controller(out)
    first = checkpoint_controller(out, update=1)
    assert (newest.provenance["update"], first.provenance["env_steps"]) == (2, 16)
    assert newest.settings == final.settings
    weights = [jax.tree.leaves(c.agent_params) for c in (final, newest, first)]
    for a, b in zip(weights[0], weights[1], strict=True):
        np.testing.assert_array_equal(a, b)
    moved = zip(weights[0], weights[2], strict=True)
    assert any(not np.array_equal(a, b) for a, b in moved)
    kept = r"one of the checkpoints kept .* \[1, 2\], got 7"
    with pytest.raises(ValueError, match=kept):
        checkpoint_controller(out, update=7)
    with pytest.raises(ValueError, match=kept):  # the command line's door
        cli.run(["evaluate", str(out), "--update", "7"])


@pytest.mark.parametrize("initial_lr", [1e-4, 1.0])
@pytest.mark.parametrize("name", ["meta-tiny-v0", "meta-tiny-v1-nostop"])
def test_the_shipped_controller_steers_a_bad_learning_rate_back(name, initial_lr):
    """The meta-tiny controllers (trained on momentum SGD alone) never saw
    these runs' seeds; from 100x too low or 100x too high, in every one of 16
    episodes the LR moves at least 3x toward 0.01 (the tuned constant on every
    task of the v1 held-out suite), and the median episode ends within 10x of
    it (meta-tiny-v1-nostop from 1e-4 in about 60% of 64 episodes, so not in
    each). The default, trained on four optimizers, keeps lower LRs; its
    recovery from bad LRs is held in a real loop by test_torch."""
    controller = controllers.load(name)
    assert controller.provenance["env_steps"] == 1_024_000
    env, params = controller.make_env(initial_lr=initial_lr, max_steps_in_episode=10)

    def episode(key):
        return rollout(env, params, controller.policy, key, 10)[1]

    keys = jax.random.split(jax.random.key(0), 16)
    lr = np.asarray(jax.jit(jax.vmap(episode))(keys).lr)
    moved = lr / initial_lr if initial_lr < 0.01 else initial_lr / lr
    assert np.all(moved >= 3), lr
    assert 1e-3 < np.median(lr) < 0.1, lr


def _observations(controller, count=16, steps=5):
    """Observations after `steps` steps of the controller's own policy: reset
    observations are all zeros for these settings, so they would not show
    corrupted weights or normaliser statistics."""
    env, params = controller.make_env()
    keys = jax.random.split(jax.random.key(3), count)
    obs, state = jax.vmap(env.reset, in_axes=(0, None))(keys, params)
    step = jax.jit(jax.vmap(env.step, in_axes=(0, 0, 0, None)))
    for i in range(steps):
        keys = jax.random.split(jax.random.key(i), count)
        obs, state, *_ = step(keys, state, controller.policy(None, obs), params)
    assert np.all(np.std(obs, axis=0) > 0)  # every feature varies across envs
    return obs


@pytest.mark.parametrize(
    "version, reported",
    [
        ("v2", "benchmarks/recipe-search/meta-mix-update-long"),
        ("v3", "benchmarks/meta-train-factors/mix-grouped-seed-1-nostop"),
    ],
)
def test_a_shipped_meta_mix_is_the_controller_the_suites_report(version, reported):
    """The results reported under a committed run's folder (v2: the recipe
    search on suite v2 and suite v3; v3: suite v6's rule) are the shipped
    meta-mix-VERSION-nostop's: the same policy and settings, and
    meta-mix-VERSION is it with its stop action."""
    shipped = controllers.load(f"meta-mix-{version}-nostop")
    screened = controllers.load(ROOT / reported)
    assert (shipped.settings, shipped.disabled) == (screened.settings, ("stop",))
    obs = _observations(shipped, count=8)
    for a, b in zip(shipped.outputs(obs), screened.outputs(obs), strict=True):
        np.testing.assert_array_equal(a, b)
    full = controllers.load(f"meta-mix-{version}")
    assert full.disabled == () and full.settings == shipped.settings
    kept = np.isfinite(shipped.outputs(obs).actor)  # all but the stop logit
    assert kept.sum() == kept.size - len(obs)
    np.testing.assert_array_equal(
        full.outputs(obs).actor[kept], shipped.outputs(obs).actor[kept]
    )


def test_without_reinit_a_start_reinit_is_a_keep_and_a_later_one_the_next_best():
    """meta-mix-v2-nostop re-initialises on the zero observation of every
    episode's start (a no-op there); taken out, that choice is a keep (LR x1),
    not the best of the others (x0.2 here), and a re-init chosen later is."""
    shipped = controllers.load("meta-mix-v2-nostop")
    reinit = at_actions.special_slot(shipped.env_config, "reinit")
    keep = int(at_actions.keep(shipped.env_config))
    obs = jnp.concatenate(
        [jnp.zeros((1, *shipped.obs_stats.mean.shape)), _observations(shipped, count=8)]
    )
    params = jax.tree.map(jnp.asarray, shipped.agent_params)
    bias = params["params"]["Dense_4"]["bias"]
    params["params"]["Dense_4"]["bias"] = bias.at[reinit].add(1e3)
    eager = dataclasses.replace(shipped, agent_params=params)  # always re-inits
    assert np.all(eager.policy(None, obs) == reinit)
    careful = jax.jit(eager.without("reinit").policy)(None, obs)
    others = np.asarray(eager.without("reinit").outputs(obs).actor).argmax(-1)
    assert careful[0] == keep and others[0] != keep
    np.testing.assert_array_equal(careful[1:], others[1:])
    assert shipped.policy(None, obs[:1]) == reinit  # the shipped one does so too
    assert shipped.without("reinit").policy(None, obs[:1]) == keep


def test_meta_train_trains_each_shipped_recipe_by_name(monkeypatch):
    """`examples/meta_train.py --recipe NAME` hands that recipe to train.main:
    meta-mix-wide's settings are the default's, meta-mix's meta-mix-v2's,
    meta-tiny's meta-tiny-v1's, and meta-mix-grouped's its committed run's."""
    from helpers import load_script

    from autotrain_jax.experiments import recipes

    script = load_script("examples/meta_train.py")
    calls = []
    monkeypatch.setattr(script, "main", lambda rest, **kw: calls.append((rest, kw)))
    script.run(["--recipe", "meta-mix", "--out", "runs/x"])
    script.run(["--seed", "2"])
    assert calls == [
        (["--out", "runs/x"], {"preset": "tiny", "defaults": recipes.META_MIX}),
        (["--seed", "2"], {"preset": "tiny", "defaults": recipes.META_TINY}),
    ]
    grouped = ROOT / "benchmarks" / "meta-train-mix-grouped" / "seed-0-nostop"
    for recipe, name in (
        ("meta-mix-wide", "meta-mix-v3-nostop"),
        ("meta-mix", "meta-mix-v2-nostop"),
        ("meta-tiny", "meta-tiny-v1"),
        ("meta-mix-grouped", grouped),  # committed, not shipped
    ):
        trained = controllers.load(name)
        assert recipes.recipe_of(trained) == recipe, name
        steps = recipes.RECIPES[recipe]["num_updates"] * trained.ppo_config.num_envs
        assert steps * trained.ppo_config.num_steps == trained.provenance["env_steps"]
    assert recipes.recipe_of(controllers.load("meta-tiny-v0")) is None  # no noise
    pooled = controllers.load(controllers.DEFAULT)  # meta-mix-wide's 3 seeds
    assert recipes.recipe_of(pooled) == "meta-mix-wide"
    assert [run["seed"] for run in pooled.runs] == [0, 1, 2]


def test_a_recipe_that_steers_an_lr_free_optimizer_is_evaluated_in_its_multiples():
    """meta-mix-schedule-free's LRs are multiples of schedule_free_adamw's
    default: its evaluation after training starts from and tunes over those,
    not over the classic optimizers' LRs."""
    from autotrain_jax.experiments import protocol, recipes, train

    recipe = recipes.RECIPES["meta-mix-schedule-free"]
    args = train.parse_args([], "tiny", recipe)
    assert (args.eval_lrs, args.eval_grid) == (recipe["eval_lrs"], recipe["eval_grid"])
    assert args.eval_lrs == (0.3, 1.0, 3.0)
    args = train.parse_args([], "tiny", recipes.META_MIX)
    assert (args.eval_lrs, args.eval_grid) == (protocol.EVAL_LRS, protocol.EVAL_GRID)


@pytest.mark.parametrize("name", controllers.available())
def test_every_shipped_controller_acts_the_same_after_a_save(name, tmp_path):
    shipped = controllers.load(name)
    obs = _observations(shipped, count=8)
    copy = controllers.load(shipped.save(tmp_path / name))
    assert (copy.settings, copy.disabled) == (shipped.settings, shipped.disabled)
    for a, b in zip(shipped.outputs(obs), copy.outputs(obs), strict=True):
        np.testing.assert_array_equal(a, b)
    chosen = shipped.policy(None, obs)
    assert len(np.unique(chosen)) > 1  # the policy reads its observation
    np.testing.assert_array_equal(copy.policy(None, obs), chosen)


def test_a_disabled_action_is_never_taken_and_survives_a_save(tmp_path):
    shipped = controllers.load("meta-tiny-v0")
    obs = _observations(shipped)
    stop = int(at_actions.stop(shipped.env_config))
    params = jax.tree.map(jnp.asarray, shipped.agent_params)
    bias = params["params"]["Dense_4"]["bias"]
    params["params"]["Dense_4"]["bias"] = bias.at[stop].add(1e3)  # always stops
    eager = dataclasses.replace(shipped, agent_params=params)
    assert np.all(eager.policy(None, obs) == stop)
    chosen = shipped.policy(None, obs)
    obs, chosen = obs[chosen != stop], chosen[chosen != stop]
    assert len(chosen) >= 8  # where it does not stop, the rest keep their ranking
    careful = eager.without("stop")
    policy = jax.jit(careful.policy)
    np.testing.assert_array_equal(policy(None, obs), chosen)
    np.testing.assert_array_equal(policy(None, obs[:3]), chosen[:3])
    assert policy._cache_size() == 2  # one trace per batch shape
    copy = controllers.load(careful.save(tmp_path / "careful"))
    assert copy.disabled == ("stop",)
    np.testing.assert_array_equal(copy.policy(None, obs), chosen)
    assert careful.without("reinit").disabled == ("reinit", "stop")
    with pytest.raises(ValueError, match=r"one of \('reinit', 'stop'\), got 'rewind'"):
        shipped.without("rewind")


def test_box_sets_hold_a_disabled_flag_at_the_floor():
    shipped = controllers.load("meta-tiny-v0")
    obs = _observations(shipped, 4)
    config = dataclasses.replace(shipped.env_config, action_set="continuous")
    network = networks.ActorCritic(4, True, shipped.ppo_config.hidden)
    params = network.init(jax.random.key(0), obs)
    box = dataclasses.replace(shipped, env_config=config, agent_params=params)
    free, careful = box.policy(None, obs), box.without("stop").policy(None, obs)
    np.testing.assert_array_equal(careful[:, 3], -1.0)
    np.testing.assert_array_equal(careful[:, :3], free[:, :3])


@pytest.mark.parametrize(
    ("damage", "cause"),
    [
        ("truncate_npz", "BadZipFile"),
        ("bad_json", "not valid JSON"),
        ("missing_key", "KeyError"),
    ],
)
def test_a_damaged_folder_is_named_with_its_files(tmp_path, damage, cause):
    folder = controllers.load(controllers.DEFAULT).save(tmp_path / "c")
    meta = folder / "controller.json"
    if damage == "truncate_npz":
        data = (folder / "policy.npz").read_bytes()
        (folder / "policy.npz").write_bytes(data[: len(data) // 2])
    elif damage == "bad_json":
        meta.write_text(meta.read_text()[:-20])
    else:
        content = json.loads(meta.read_text())
        del content["ppo"]
        meta.write_text(json.dumps(content))
    with pytest.raises(ValueError, match=f"{folder}.*is damaged.*{cause}"):
        controllers.load(folder)


def test_a_users_own_data_wins_over_the_training_sizes():
    controller = controllers.load(controllers.DEFAULT)  # trained on 256-4096 images
    _, loaded = at.make_env("tiny", train_size=300, holdout_size=100)
    env, params = controller.make_env(data=loaded.data, initial_lr=1e-2)
    assert params.data is loaded.data and params.train_subset_size is None
    _, state = env.reset(jax.random.key(0), params)
    assert int(state.task.train_subset_size) == 300  # the whole of the user's split


def test_an_env_of_the_same_shape_but_other_features_is_refused():
    controller = controllers.load(controllers.DEFAULT)  # scale_free, T=10, S=5
    with pytest.raises(ValueError, match="observation: 'scale_free'.*inner_steps"):
        # K=4 losses + 2 features: the shape of scale_free's K=2 + 4 features
        controller.make_env(observation="original", inner_steps=20)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (["--env", "initial_lr=0.1"], "make_env.initial_lr: None -> 0.1"),
        (["--num-envs", "8"], "args.num_envs: 4 -> 8"),
    ],
)
def test_a_resume_with_other_settings_is_refused_before_any_data_is_read(
    tiny_ppo_run, tmp_path, monkeypatch, change, named
):
    run = tmp_path / "run"
    shutil.copytree(tiny_ppo_run[0], run)
    saved = (run / "config.json").read_text()

    def no_data(*args, **kwargs):
        raise AssertionError("data was read before the resume was checked")

    monkeypatch.setattr(at.presets, "load_dataset", no_data)
    argv = ["train", "tiny", "--num-envs", "4", "--num-steps", "4"]
    argv += ["--num-updates", "3", "--checkpoint-every", "1"]
    argv += ["--ppo", "update_epochs=2", "--ppo", "hidden=(32, 32)"]
    argv += ["--eval-seeds", "2", "--out", str(run), "--quiet"]
    with pytest.raises(ValueError, match=re.escape(named)):
        cli.run(argv + change)
    assert (run / "config.json").read_text() == saved  # its provenance kept
    with pytest.raises(AssertionError, match="data was read"):
        cli.run(argv)  # more updates, another evaluation: it resumes (reads data)


WIDE_SEEDS = [
    ROOT / "benchmarks" / "meta-train-factors" / f"mix-grouped-seed-{seed}-nostop"
    for seed in (0, 1, 2)
]


def _spread_observations(controller, count=64):
    """Observations spread as in the controller's training: its normaliser's
    mean plus its standard deviation times a standard normal draw."""
    stats = controller.obs_stats
    z = jax.random.normal(jax.random.key(0), (count, *stats.mean.shape))
    return stats.mean + jnp.sqrt(stats.var) * z


def test_an_ensemble_acts_on_its_members_mean_probabilities_and_survives_a_save(
    tmp_path,
):
    members = [controllers.load(folder) for folder in WIDE_SEEDS]
    pooled = controllers.ensemble(members)
    obs = _spread_observations(members[0])
    # every member's full policy (the shipped seeds never stop: stop is taken
    # out of the pooled policy, as `without` takes it out of one)
    full = [dataclasses.replace(m, disabled=()) for m in members]
    probs = np.mean([jax.nn.softmax(m.outputs(obs).actor) for m in full], 0)
    probs[:, int(at_actions.stop(pooled.env_config))] = 0.0
    chosen = np.argmax(probs, -1)
    assert len(np.unique(chosen)) > 1
    # each member alone acts otherwise somewhere, so pooling is what is seen
    assert all(np.any(m.policy(None, obs) != chosen) for m in members)
    policy = jax.jit(pooled.policy)
    np.testing.assert_array_equal(policy(None, obs), chosen)
    np.testing.assert_array_equal(policy(None, obs[:3]), chosen[:3])
    assert policy._cache_size() == 2  # one trace per batch shape
    copy = controllers.load(pooled.save(tmp_path / "pooled"))
    assert (copy.members, copy.disabled) == (3, ("stop",))
    assert copy.provenance["ensemble_of"][1] == dict(members[1].provenance)
    np.testing.assert_array_equal(copy.policy(None, obs), chosen)
    # copies of one controller act as that controller
    twice = controllers.ensemble([members[1], members[1]])
    np.testing.assert_array_equal(twice.policy(None, obs), members[1].policy(None, obs))


def test_an_ensemble_needs_two_or_more_seeds_of_one_recipe():
    one = controllers.load(WIDE_SEEDS[0])
    with pytest.raises(ValueError, match="2 or more single controllers, got 1"):
        controllers.ensemble([one])
    with pytest.raises(ValueError, match=r"member counts \[2, 1\]"):
        controllers.ensemble([controllers.ensemble([one, one]), one])
    other = controllers.load("meta-mix-v2-nostop")  # narrower LR moves
    with pytest.raises(ValueError, match="must share their settings"):
        controllers.ensemble([one, other])
