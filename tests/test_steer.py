"""A controller in a user's own optax loop takes the env's decisions."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import load_script

import autotrain_jax as at
from autotrain_jax import actions, controllers
from autotrain_jax.controllers.steer import Steering, SteerState, steer


@pytest.fixture(scope="module")
def shipped():
    return controllers.load("meta-tiny-v0")


@pytest.mark.parametrize("initial_lr", [1e-4, 1.0])
def test_steer_takes_the_envs_decisions_on_the_envs_losses_and_scores(
    shipped, initial_lr
):
    budget = 10
    env, params = shipped.make_env(initial_lr=initial_lr, max_steps_in_episode=budget)
    obs, state = env.reset(jax.random.key(0), params)
    step_env, observations, logs = jax.jit(env.step_env), [], []
    for t in range(budget):  # the env's episode under the controller
        action = shipped.policy(None, obs)
        obs, state, _, terminated, info = step_env(
            jax.random.key(t + 1), state, action, params
        )
        observations.append(obs)
        logs.append({**info, "alive": True})
        if terminated:
            break
    log = jax.tree.map(lambda *x: np.stack(x), *jax.device_get(logs))
    config = shipped.env_config
    period, every = config.inner_steps, config.loss_every

    optimizer = steer(shipped, initial_lr=initial_lr, budget=budget)
    state = optimizer.init(None)  # (weights unused)
    update = jax.jit(optimizer.update)
    decisions = [state.control]  # the first on the all-zero observation, as the env
    lrs = [float(state.lr)]  # the LR of each block, as the adapter chose it
    moved, leads = [], []  # logit changes from the records' rounding; top-2 leads
    for block in np.flatnonzero(log["alive"] & ~log["stop"]):
        for step in range(period):
            updates, state = update(
                {"w": jnp.ones(2)},
                state,
                value=log["losses"][block, step // every],
                score=log["score"][block],
                train_accuracy=log["train_accuracy"][block],
            )
            np.testing.assert_allclose(updates["w"], lrs[-1] / initial_lr, rtol=1e-6)
        np.testing.assert_allclose(  # the record the env showed the controller
            state.records, observations[block], rtol=1e-5, atol=1e-6
        )
        decisions.append(state.control)
        lrs.append(float(state.lr))
        seen = shipped.outputs(jnp.asarray(observations[block])).actor
        moved.append(np.abs(shipped.outputs(state.records).actor - seen).max())
        leads.append(np.diff(np.sort(seen)[-2:])[0])

    # The records match the env's observations only up to rounding (another XLA
    # program), so the greedy decisions are compared exactly only because every
    # one is far from a tie: the rounding moves the logits by < 1e-3 (measured on
    # AVX-512: <= 4e-6), and every decision leads its runner-up by more than twice
    # that (measured: >= 0.22).
    assert max(moved) < 1e-3 and min(leads) > 2e-3, (max(moved), min(leads))

    alive = log["alive"]  # env step t acted on the decision after block t - 1
    taken = jax.tree.map(lambda *x: np.stack(x)[: alive.sum()], *decisions)
    np.testing.assert_array_equal(taken.lr_factor, log["lr_factor"][alive])
    np.testing.assert_array_equal(taken.stop, log["stop"][alive])
    np.testing.assert_array_equal(taken.reinit, log["reinit"][alive])
    trained = alive & ~log["stop"]
    np.testing.assert_allclose(lrs[: trained.sum()], log["lr"][trained], rtol=1e-6)
    assert max(lrs) / min(lrs) > 10  # it did steer: from 1e-4 up, or from 1 down


def test_a_cosine_controller_scales_each_block_by_the_cosine_over_the_budget(shipped):
    """Under `lr_schedule="cosine"` every update of block b is scaled by the
    controller's LR times the cosine's fraction of b over the budget, as the
    env trains the block."""
    config = dataclasses.replace(shipped.env_config, lr_schedule="cosine")
    cosine = dataclasses.replace(shipped, env_config=config)
    budget, period = 4, config.inner_steps
    optimizer = steer(cosine, initial_lr=0.01, budget=budget)
    state, update = optimizer.init(None), jax.jit(optimizer.update)
    for block in range(budget):
        fraction = 0.01 + 0.99 * 0.5 * (1 + np.cos(np.pi * block / budget))
        expected = float(state.lr) / 0.01 * fraction
        for _ in range(period):
            updates, state = update({"w": jnp.ones(2)}, state, value=1.0, score=0.5)
            np.testing.assert_allclose(updates["w"], expected, rtol=1e-5)


def test_steer_acts_with_the_numbers_the_controller_was_trained_with(shipped):
    """A controller trained with other LR factors and bounds moves the LR by
    them in steer too (every LR move here is x3, within lr_max 0.02)."""
    settings = {**shipped.settings, "reduced_lr_factors": (3.0,) * 5, "lr_max": 0.02}
    moved = dataclasses.replace(shipped, settings=settings).without("reinit", "stop")
    state = steer(moved, initial_lr=1e-3, budget=4).init(None)
    assert float(state.lr) == pytest.approx(3e-3)
    state = steer(moved, initial_lr=0.01, budget=4).init(None)
    assert float(state.lr) == pytest.approx(0.02)
    state = steer(moved, initial_lr=0.01, budget=4, lr_max=1.0).init(None)
    assert float(state.lr) == pytest.approx(0.03)  # the user's bound wins


@pytest.fixture(scope="module")
def watching():
    """A controller trained with `observe_update` (a recipe-search screen)."""
    return controllers.load("benchmarks/recipe-search/meta-mix-update-long")


@pytest.mark.parametrize(("optimizer", "initial_lr"), [("sgd", 1e-3), ("adam", 1e-3)])
def test_steer_sees_the_weight_change_the_env_shows(watching, optimizer, initial_lr):
    """An `observe_update` controller in an optax loop: each block's weight
    change is measured from the weights `update` is given, and the records
    are the env's. The loop is handed the env's own weights: the block's
    first update gets the weights the env trained from, the last one the
    update that lands on the env's weights after the block. So a block must
    start where the last one ended: the reduced action set never rewinds, and
    the env's first action, whose re-init (this controller's choice on the
    all-zero observation) a loop does not take (see `Steering`), is "LR x 1"
    here, which sets the same LR."""
    budget = 8
    env, params = watching.make_env(
        optimizer=optimizer, initial_lr=initial_lr, max_steps_in_episode=budget
    )
    obs, state = env.reset(jax.random.key(0), params)
    step_env = jax.jit(env.step_env)
    weights, observations, logs = [state.weights], [], []
    for t in range(budget):
        action = watching.policy(None, obs) if t else jnp.int32(0)
        obs, state, _, terminated, info = step_env(
            jax.random.key(t + 1), state, action, params
        )
        assert not (info["stop"] or info["diverged"] or info["reinit"])
        weights.append(state.weights)
        observations.append(obs)
        logs.append(info)
    config = watching.env_config
    period, every = config.inner_steps, config.loss_every

    transform = steer(watching, initial_lr=initial_lr, budget=budget)
    steer_state = transform.init(weights[0])
    update = jax.jit(transform.update)
    for block, info in enumerate(logs):
        before, after = weights[block], weights[block + 1]
        np.testing.assert_allclose(float(steer_state.lr), info["lr"], rtol=1e-6)
        scale = float(steer_state.lr) / initial_lr
        moves = [jax.tree.map(jnp.zeros_like, before)] * (period - 1)
        moves.append(jax.tree.map(lambda a, b, s=scale: (a - b) / s, after, before))
        for step, move in enumerate(moves):
            _, steer_state = update(
                move,
                steer_state,
                before,
                value=info["losses"][step // every],
                score=info["score"],
                train_accuracy=info["train_accuracy"],
            )
        np.testing.assert_allclose(
            steer_state.records, observations[block], rtol=1e-5, atol=1e-5
        )
        # The next LR is steer's own decision on its records, equal to the
        # env's only if rounding cannot flip it: the logits move < 1e-3 and
        # the decision leads its runner-up by more than twice that (measured
        # on AVX-512: moved <= 5e-7, lead >= 0.43).
        seen = watching.outputs(jnp.asarray(observations[block])).actor
        kept = np.isfinite(seen)  # its stop logit is -inf (a no-stop controller)
        ours = watching.outputs(steer_state.records).actor
        moved = np.abs(ours[kept] - seen[kept]).max()
        lead = np.diff(np.sort(seen)[-2:])[0]
        assert moved < 1e-3 and lead > 2e-3, (block, moved, lead)
    changes = np.stack(observations)[:, -1, -1]  # the newest record's feature
    assert np.all(changes > -8) and np.ptp(changes) > 0.1, changes


def test_steer_needs_the_weights_for_an_observe_update_controller(watching):
    transform = steer(watching, initial_lr=0.1, budget=4)
    with pytest.raises(ValueError, match="pass params"):
        transform.update({"w": jnp.ones(2)}, transform.init(None), value=1.0)
    # a loop that is not JAX's gives the change itself (NaN: not measured)
    state = transform.init(None)
    for step in range(watching.env_config.inner_steps):
        change = 0.05 if step == watching.env_config.inner_steps - 1 else np.nan
        _, state = transform.update({}, state, value=1.0, weight_change=change)
    np.testing.assert_allclose(state.records[-1, -1], np.log10(0.05), rtol=1e-6)


@pytest.mark.parametrize("adaptive", [True, False])
def test_steer_shows_the_optimizer_kind_it_is_told(adaptive):
    from helpers import untrained_controller

    controller = untrained_controller(observe_optimizer=True)
    with pytest.raises(ValueError, match="needs adaptive=True"):
        steer(controller, initial_lr=0.1, budget=4)
    transform = steer(controller, initial_lr=0.1, budget=4, adaptive=adaptive)
    weights = {"w": jnp.ones(2)}
    state = transform.init(weights)
    for _ in range(controller.env_config.inner_steps):
        _, state = transform.update(weights, state, weights, value=1.0)
    assert state.records[-1, -1] == float(adaptive)
    assert state.records[-1, -2] > -8  # observe_update's feature comes first


def _state_after_block(control: actions.Control, time: int) -> SteerState:
    zeros = jnp.zeros(2)
    return SteerState(
        count=jnp.int32(10 * time),
        loss_sums=zeros,
        lr=jnp.float32(0.1),
        records=jnp.zeros((3, 6)),
        time=jnp.int32(time),
        first_loss=jnp.float32(1.0),
        score=jnp.float32(0.5),
        train_accuracy=jnp.float32(0.5),
        control=control,
        start=None,
        update=jnp.float32(0),
    )


def _control(**changes) -> actions.Control:
    keep = actions.Control(
        lr_factor=jnp.float32(1.0),
        rewind=jnp.int32(0),
        batch_factor=jnp.float32(1.0),
        reinit=jnp.bool_(False),
        stop=jnp.bool_(False),
        invalid=jnp.bool_(False),
    )
    return keep._replace(**{k: jnp.asarray(v) for k, v in changes.items()})


def test_steering_rewinds_reinitialises_and_stops(shipped):
    optimizer = optax.chain(optax.sgd(0.1), steer(shipped, 0.1, budget=10))
    inner = optax.sgd(0.1).init({"w": jnp.zeros(2)})

    def opt(time, **control):
        return (inner, _state_after_block(_control(**control), time))

    start = {"w": jnp.zeros(2)}
    steering = Steering(shipped, optimizer, start, opt(0), init_params=None)

    def block(params, opt_state):
        """T updates: the first T - 1 change nothing, the T-th ends the block."""
        for _ in range(shipped.env_config.inner_steps - 1):
            unchanged, _, stop = steering.after_step(params, opt_state)
            assert unchanged is params and not stop
        return steering.after_step(params, opt_state)

    weights = [{"w": jnp.full(2, float(t))} for t in range(1, 4)]
    for t, w in enumerate(weights[:2], start=1):  # two plain blocks
        params, _, stop = block(w, opt(t))
        assert params is w and not stop

    params, state, stop = block(weights[2], opt(3, rewind=2))
    assert float(params["w"][0]) == 1.0 and not stop  # H = 3 kept w1, w2, w3
    assert int(state[1].time) == 3  # the steering state is the current one

    params, state, stop = block(weights[0], opt(4, reinit=True))
    assert float(params["w"][0]) == 0.0 and not stop  # back to the start weights
    params, _, stop = block(weights[1], opt(5, stop=True))
    assert stop and params is weights[1]


@pytest.mark.parametrize(
    ("past_oldest", "rewind", "expected"),
    [("oldest", 5, 1.0), ("reinit", 5, 0.0), ("reinit", 2, 1.0), ("reinit", 3, 0.0)],
)
def test_a_rewind_past_the_oldest_does_what_the_controller_was_trained_with(
    shipped, past_oldest, rewind, expected
):
    """H = 3 blocks kept (w1, w2, w3): a rewind of 2 reaches w1, one of 3 or
    more goes past it, to w1 again ("oldest") or to fresh weights ("reinit",
    as the env does)."""
    config = dataclasses.replace(shipped.env_config, rewind_past_oldest=past_oldest)
    controller = dataclasses.replace(shipped, env_config=config)
    optimizer = optax.chain(optax.sgd(0.1), steer(controller, 0.1, budget=10))
    inner = optax.sgd(0.1).init({"w": jnp.zeros(2)})
    start = {"w": jnp.zeros(2)}
    steering = Steering(
        controller, optimizer, start, (inner, _state_after_block(_control(), 0))
    )
    for t in range(1, 4):
        control = _control(rewind=rewind) if t == 3 else _control()
        opt_state = (inner, _state_after_block(control, t))
        for _ in range(config.inner_steps):
            params, _, stop = steering.after_step(
                {"w": jnp.full(2, float(t))}, opt_state
            )
    assert float(params["w"][0]) == expected and not stop


def test_steer_refuses_what_a_training_loop_cannot_observe(shipped):
    self_play = dataclasses.replace(
        shipped,
        env_config=dataclasses.replace(shipped.env_config, action_set="self_play"),
    )
    with pytest.raises(ValueError, match="action_set"):
        steer(self_play, 0.1, budget=10)
    seeing = dataclasses.replace(
        shipped,
        env_config=dataclasses.replace(shipped.env_config, observe_task=True),
    )
    with pytest.raises(ValueError, match="observe_task=True"):
        steer(seeing, 0.1, budget=10)
    with pytest.raises(ValueError, match="budget"):
        steer(shipped, 0.1, budget=0)
    with pytest.raises(ValueError, match="steer"):
        Steering(shipped, optax.sgd(0.1), {}, optax.sgd(0.1).init({}))
    free = {**shipped.settings, "optimizer": "schedule_free_adamw"}
    with pytest.raises(ValueError, match="trained to steer 'schedule_free_adamw'"):
        steer(dataclasses.replace(shipped, settings=free), 0.1, budget=10)


def test_the_example_steers_a_user_model_and_prints_both_accuracies(capsys):
    example = load_script("examples/steer_your_training.py")
    results = example.main(["--blocks", "3", "--initial-lr", "1e-4"])
    assert set(results) == {"constant LR", "controller"}
    assert all(0.0 < acc <= 1.0 for acc in results.values())
    printed = capsys.readouterr().out
    assert "constant LR: test accuracy" in printed and "controller:" in printed


def test_non_finite_losses_and_scores_never_reach_the_controller():
    controller = controllers.load(controllers.DEFAULT)  # scale_free records
    period = controller.env_config.inner_steps
    optimizer = steer(controller, initial_lr=1e-2, budget=10)
    weights = {"w": jnp.ones(2)}
    state = optimizer.init(weights)
    update = jax.jit(optimizer.update)
    inputs = [(jnp.nan, 0.5), (2.0, jnp.nan), (jnp.inf, -jnp.inf), (1.5, 0.6)]
    for value, score in inputs:  # one block each
        for _ in range(period):
            _, state = update(weights, state, weights, value=value, score=score)
        assert np.all(np.isfinite(state.records)), (value, score)
        assert np.isfinite(state.lr)
    # the NaN score was ignored: the second block shows the first block's 0.5
    score_column = controller.env_config.num_losses + 1  # after log10 LR
    np.testing.assert_allclose(state.records[:, score_column], [0.5, 0.5, 0.6])
    assert float(state.first_loss) == 2.0  # the first finite block's first loss


class _Scripted:
    """A stand-in controller for `steer` and `Steering`: the decisions come
    from the test (through each block's `SteerState.control`), not a policy."""

    def __init__(self, env_config):
        self.env_config = env_config

    def policy(self, key, obs):
        del key, obs
        return actions.keep(self.env_config)


def _scripted_actions(env, params, rng, num):
    """`num` random actions of the env's set: the first keeps (a loop starts from
    the weights it holds, see `Steering`), only the last stops."""
    space = env.action_space(params)
    chosen = [actions.keep(env.config)]
    while len(chosen) < num:
        action = space.sample(jax.random.key(int(rng.integers(2**31))))
        if bool(actions.decode(action, params, env.config).stop) == (
            len(chosen) == num - 1
        ):
            chosen.append(action)
    return chosen


@pytest.mark.parametrize(
    ("action_set", "past_oldest"),
    [
        ("full", "oldest"),
        ("full", "reinit"),
        ("continuous", "oldest"),
        ("continuous", "reinit"),
        ("reduced", "oldest"),
    ],
)
def test_the_env_and_steering_restore_reinit_and_stop_alike(action_set, past_oldest):
    """One random episode, side by side: the env steps through it, and
    `Steering` is handed the env's weights after every block with the same
    decision. The weights Steering goes on from are those the env trained its
    next block from (the newest in its history but one), and a stop returns
    the weights the env stopped with. Weights are named by the block they come
    from (exact: one process, the very arrays), or "fresh" for a re-init."""
    num = 24
    env, params = at.make_env(
        "tiny",
        action_set=action_set,
        rewind_past_oldest=past_oldest,
        max_lr_factor=2.0,
        lr_max=0.1,
        max_steps_in_episode=num,
    )
    config = env.config
    chosen = _scripted_actions(env, params, np.random.default_rng(0), num)
    _, state = env.reset(jax.random.key(0), params)
    step_env = jax.jit(env.step_env)
    weights = [state.weights]  # the env's weights after each block, from 0

    def name(tree):
        for block, w in enumerate(weights):
            leaves = zip(jax.tree.leaves(tree), jax.tree.leaves(w), strict=True)
            if all(np.array_equal(a, b) for a, b in leaves):
                return block
        return "fresh"

    def history(state):
        """The env's snapshots, oldest first, by name."""
        h = jax.device_get(state.weight_history)
        slots = (h.head - np.arange(h.count)[::-1]) % h.size
        return [name(jax.tree.map(lambda x, i=i: x[i], h.snapshots[0])) for i in slots]

    controller = _Scripted(config)
    fresh = jax.tree.map(jnp.zeros_like, state.weights)  # Steering's re-inits
    optimizer = optax.chain(optax.sgd(1.0), steer(controller, 1.0, budget=num))
    inner, steer_state = optimizer.init(state.weights)
    steering = Steering(
        controller,
        optimizer,
        state.weights,
        (inner, steer_state),
        init_params=lambda key: fresh,
    )
    seen = set()
    for t, action in enumerate(chosen):
        obs, state, _, terminated, info = step_env(
            jax.random.key(t + 1), state, action, params
        )
        assert not info["diverged"]
        control = actions.decode(action, params, config)
        seen |= {"rewind"} if int(control.rewind) else set()
        seen |= {"reinit"} if bool(info["reinit"]) else set()
        seen |= {"past the oldest"} if info["reinit"] & ~control.reinit else set()
        if t:  # Steering applies decision t at the end of block t - 1
            opt_state = (inner, steer_state._replace(control=control))
            for _ in range(config.inner_steps):
                loop_weights, _, stop = steering.after_step(weights[-1], opt_state)
            assert stop == bool(control.stop), t
            if stop:
                assert name(loop_weights) == name(state.weights), t
                break
            assert name(loop_weights) == history(state)[-2], (t, history(state))
        weights.append(state.weights)
        assert not terminated
    assert bool(terminated) and stop
    expected = {"reinit"} | ({"rewind"} if action_set != "reduced" else set())
    expected |= {"past the oldest"} if past_oldest == "reinit" else set()
    assert seen >= expected, seen
