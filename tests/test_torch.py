"""A shipped controller steering a plain PyTorch loop (autotrain_jax.torch)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from helpers import load_script

import autotrain_jax as at
from autotrain_jax import actions, controllers
from autotrain_jax.torch import Steer


def _mlp(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(784, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10)
    )


@pytest.mark.parametrize("lr_schedule", ["constant", "cosine"])
def test_its_lrs_are_the_optax_adapters_for_the_same_losses_and_scores(lr_schedule):
    # A controller that does not watch the weights, so that the losses and
    # scores alone decide; the default's weight changes are held below.
    controller = controllers.load("meta-tiny-v1-nostop")
    config = dataclasses.replace(controller.env_config, lr_schedule=lr_schedule)
    controller = dataclasses.replace(controller, env_config=config)
    weights = [torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(3))]
    optimizer = torch.optim.SGD(
        [{"params": weights[:1]}, {"params": weights[1:], "lr": 2e-4}], lr=1e-4
    )
    steer = Steer(optimizer, controller, budget=6)
    optax_steer = controllers.steer(controller, initial_lr=1e-4, budget=6)
    state = optax_steer.init(None)
    rng = np.random.default_rng(0)
    period = controller.env_config.inner_steps
    for block in range(6):
        score = float(rng.uniform(0.1, 0.9))
        for _ in range(period):
            loss = float(rng.uniform(0.5, 2.5)) / (block + 1)
            _, state = optax_steer.update({}, state, value=loss, score=score)
            stopped = steer.step(loss, score=score)
        assert not stopped
        # the next block's LR: the same program's decision, shaped by a cosine
        # over the budget (1 on the first block, 1% after the last)
        cosine = 0.01 + 0.99 * 0.5 * (1 + np.cos(np.pi * (block + 1) / 6))
        lr = float(state.lr) * (cosine if lr_schedule == "cosine" else 1.0)
        assert steer.lr == pytest.approx(lr, rel=1e-6)
        lrs = [g["lr"] for g in optimizer.param_groups]
        np.testing.assert_allclose(lrs, [lr, 2 * lr], rtol=1e-6)
    assert max(steer.lr, 1e-4) / min(steer.lr, 1e-4) > 3  # it did steer


@pytest.fixture(scope="module")
def mnist():
    data = at.load_dataset("mnist", train_size=2048, holdout_size=512)

    def tensor(a, dtype=torch.float32):
        return torch.tensor(np.asarray(a), dtype=dtype)

    def split(name):
        x, y = getattr(data, f"{name}_x"), getattr(data, f"{name}_y")
        return tensor(x).reshape(len(y), -1) / 255.0, tensor(y, torch.long)

    return {name: split(name) for name in ("train", "holdout", "test")}


def _train(mnist, lr0: float, steered: bool, blocks: int = 20) -> float:
    """Momentum SGD on an MLP 784-64-10, batch 32, blocks x T steps; test accuracy."""
    model, (x, y), (hx, hy) = _mlp(0), mnist["train"], mnist["holdout"]
    optimizer = torch.optim.SGD(model.parameters(), lr=lr0, momentum=0.9)
    steer = Steer(optimizer, budget=blocks, model=model) if steered else None
    batches = torch.Generator().manual_seed(0)
    for _ in range(blocks * 10):
        idx = torch.randint(0, len(y), (32,), generator=batches)
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if steer is not None:
            with torch.no_grad():
                score = (model(hx).argmax(-1) == hy).float().mean().item()
            if steer.step(loss.item(), score=score):
                break
    tx, ty = mnist["test"]
    with torch.no_grad():
        return (model(tx).argmax(-1) == ty).float().mean().item()


@pytest.mark.parametrize("initial_lr", [1e-4, 1e-2, 1.0])
def test_a_torch_mlp_steered_from_a_bad_lr_beats_the_constant(mnist, initial_lr):
    steered = _train(mnist, initial_lr, steered=True)
    constant = _train(mnist, initial_lr, steered=False)
    if initial_lr == 1e-2:  # a good LR: it keeps training well
        assert steered > 0.8 and steered > constant - 0.02, (steered, constant)
    else:  # 100x too low or too high: the constant barely learns
        assert steered > constant + 0.3, (steered, constant)


def _forced(action: int) -> controllers.Controller:
    """The default controller, made to take `action` on every observation."""
    shipped = controllers.load(controllers.DEFAULT)
    params = jax.tree.map(jnp.asarray, shipped.agent_params)
    bias = params["params"]["Dense_4"]["bias"]
    params["params"]["Dense_4"]["bias"] = bias.at[..., action].add(1e3)  # every member
    return dataclasses.replace(shipped, agent_params=params, disabled=())  # may stop


def test_a_reinit_resets_the_weights_and_the_optimizer_and_a_stop_is_returned():
    config = controllers.load(controllers.DEFAULT).env_config
    model = _mlp(0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    steer = Steer(optimizer, _forced(actions.REDUCED_REINIT), budget=5, model=model)
    before = [p.detach().clone() for p in model.parameters()]
    for _ in range(config.inner_steps):
        loss = model(torch.ones(4, 784)).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        assert not steer.step(loss.item())
    after = list(model.parameters())
    assert all(not torch.equal(a, b) for a, b in zip(before, after, strict=True))
    assert not optimizer.state  # momentum buffers cleared
    stopper = Steer(optimizer, _forced(actions.REDUCED_STOP), budget=5, model=model)
    stops = [stopper.step(1.0) for _ in range(config.inner_steps)]
    assert stops == [False] * (config.inner_steps - 1) + [True]


def test_a_rewind_restores_the_model_and_optimizer_of_the_newest_block_left():
    model = _mlp(0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    steer = Steer(optimizer, budget=5, model=model)
    config = steer.controller.env_config
    decide = steer._update
    rewinds = iter([0] * (config.history - 1) + [1])

    def forced(state, *args):  # the controller's LRs; the rewinds come from here
        state = decide(state, *args)
        if int(state.count) % config.inner_steps:
            return state
        control = state.control._replace(
            rewind=jnp.int32(next(rewinds)), reinit=jnp.bool_(False)
        )
        return state._replace(control=control._replace(stop=jnp.bool_(False)))

    steer._update = forced
    x, ends = torch.linspace(-1, 1, 4 * 784).reshape(4, 784), []
    for _ in range(config.history):  # H blocks: keep, keep, ..., then rewind 1
        for _ in range(config.inner_steps):
            loss = model(x).square().mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            ends.append(
                (
                    [w.detach().clone() for w in model.parameters()],
                    [
                        optimizer.state[w]["momentum_buffer"].clone()
                        for w in model.parameters()
                    ],
                )
            )
            assert not steer.step(loss.item())
    block_ends = ends[config.inner_steps - 1 :: config.inner_steps]
    weights, momenta = block_ends[-2]  # the rewind dropped the newest block
    for w, expected in zip(model.parameters(), weights, strict=True):
        torch.testing.assert_close(w.detach(), expected, rtol=0, atol=0)
    for w, expected in zip(model.parameters(), momenta, strict=True):
        torch.testing.assert_close(
            optimizer.state[w]["momentum_buffer"], expected, rtol=0, atol=0
        )
    assert not torch.equal(block_ends[-1][0][0], block_ends[-2][0][0])
    assert [g["lr"] for g in optimizer.param_groups] == [pytest.approx(steer.lr)]


def test_a_controller_that_observes_updates_sees_the_optax_adapters_records():
    """`observe_update`: Steer measures each block's relative weight change
    over the model's parameters; the optax adapter, given the same weights
    as JAX arrays, builds the same records."""
    controller = controllers.load("benchmarks/recipe-search/meta-mix-update-long")
    model = _mlp(0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    steer = Steer(optimizer, controller, budget=4, model=model)
    transform = controllers.steer(controller, initial_lr=0.05, budget=4)

    def weights():
        return [jnp.asarray(w.detach().numpy().copy()) for w in model.parameters()]

    state = transform.init(weights())
    x = torch.linspace(-1, 1, 4 * 784).reshape(4, 784)
    for _ in range(3 * controller.env_config.inner_steps):
        before, scale = weights(), float(state.lr) / 0.05
        loss = model(x).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        moved = [(a - b) / scale for a, b in zip(weights(), before, strict=True)]
        _, state = transform.update(moved, state, before, value=loss.item())
        assert not steer.step(loss.item())
        np.testing.assert_allclose(steer._state.records, state.records, rtol=1e-4)
    assert np.all(np.asarray(state.records)[:, -1] > -8)  # three blocks measured
    with pytest.raises(ValueError, match="model is required"):
        Steer(optimizer, controller, budget=4)


def test_the_optimizer_kind_is_read_from_torchs_optimizer_class():
    from helpers import untrained_controller

    controller = untrained_controller(observe_optimizer=True)
    model = torch.nn.Linear(2, 1)
    period = controller.env_config.inner_steps
    for kind, adaptive in ((torch.optim.Adam, 1.0), (torch.optim.SGD, 0.0)):
        steer = Steer(kind(model.parameters(), lr=0.1), controller, 4, model)
        for _ in range(period):
            steer.step(1.0)
        assert float(steer._state.records[-1, -1]) == adaptive
    odd = torch.optim.Adadelta(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="needs adaptive"):
        Steer(odd, controller, 4, model)
    Steer(odd, controller, 4, model, adaptive=True)


def test_bad_input_names_the_field():
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="model is required"):
        Steer(optimizer, budget=5)  # the default watches how far blocks move
    steer = Steer(optimizer, budget=5, model=model)
    with pytest.raises(ValueError, match="loss must be a number, got 'high'"):
        steer.step("high")
    with pytest.raises(ValueError, match=r"score must be a scalar.*\(3,\)"):
        steer.step(1.0, score=torch.ones(3))
    steer.step(torch.tensor(1.0), score=float("nan"))  # a scalar tensor is a number
    del optimizer.param_groups[0]["lr"]
    with pytest.raises(ValueError, match=r"'lr' in every param group; groups \[0\]"):
        Steer(optimizer, budget=5, model=model)
    with pytest.raises(ValueError, match="budget"):
        Steer(torch.optim.SGD(model.parameters(), lr=0.1), budget=0, model=model)


def test_the_example_steers_a_torch_model_and_prints_both_accuracies(capsys):
    example = load_script("examples/steer_pytorch.py")
    results = example.main(["--blocks", "3", "--initial-lr", "1e-4"])
    assert set(results) == {"constant LR", "controller"}
    assert all(0.0 < acc <= 1.0 for acc in results.values())
    printed = capsys.readouterr().out
    assert "constant LR: test accuracy" in printed and "controller:" in printed
