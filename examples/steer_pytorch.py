"""A trained controller steering a plain PyTorch loop: your torch model, your
torch optimizer, three added lines (`Steer(...)`, `steer.step(...)`, the stop).

    python examples/steer_pytorch.py                   # from LR 1e-4
    python examples/steer_pytorch.py --initial-lr 0.01

Trains the same MLP twice from the same weights and minibatches, at a constant
LR and with a controller (`--controller`: a shipped name or a run folder;
`controllers.DEFAULT` by default) choosing the LR every 10 steps, and prints
both test accuracies, as examples/steer_your_training.py does for optax. The
arrays are the MNIST subset embedded in the package; put your own in their
place. Needs torch (`pip install -e '.[torch]'`).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from autotrain_jax import controllers
from autotrain_jax.data import EMBEDDED_MNIST
from autotrain_jax.torch import Steer


def your_tensors():
    """(train, holdout, test) as (x float32 in [0, 1], y int64) pairs."""
    with np.load(EMBEDDED_MNIST) as data:
        x = torch.tensor(data["x"], dtype=torch.float32).reshape(len(data["y"]), -1)
        x, y = x / 255.0, torch.tensor(data["y"], dtype=torch.long)
    return (x[:2048], y[:2048]), (x[2048:2560], y[2048:2560]), (x[8000:], y[8000:])


def accuracy(model, x, y) -> float:
    with torch.no_grad():
        return (model(x).argmax(-1) == y).float().mean().item()


def train(initial_lr: float, blocks: int, seed: int, controller=None) -> float:
    """Trains `blocks` x 10 steps; returns the test accuracy (steered if a
    controller is given, else at the constant `initial_lr`)."""
    (x, y), (hold_x, hold_y), (test_x, test_y) = your_tensors()
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10)
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=initial_lr, momentum=0.9)
    steer = None
    if controller is not None:  # added line 1
        steer = Steer(optimizer, controller, budget=blocks, model=model)
    batches = torch.Generator().manual_seed(seed)
    for _ in range(blocks * 10):
        index = torch.randint(0, len(y), (32,), generator=batches)
        loss = torch.nn.functional.cross_entropy(model(x[index]), y[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        # added lines 2 and 3: the loss and a holdout score, then the stop
        if steer is not None and steer.step(
            loss.item(), score=accuracy(model, hold_x, hold_y)
        ):
            break
    return accuracy(model, test_x, test_y)


def main(argv=None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--initial-lr", type=float, default=1e-4)
    parser.add_argument("--blocks", type=int, default=30, help="budget: blocks of T")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--controller", default=controllers.DEFAULT)
    args = parser.parse_args(argv)
    controller = controllers.load(args.controller)
    if controller.env_config.inner_steps != 10:
        parser.error("this example's budget counts blocks of 10 steps")
    results = {
        "constant LR": train(args.initial_lr, args.blocks, args.seed),
        "controller": train(args.initial_lr, args.blocks, args.seed, controller),
    }
    for name, test_accuracy in results.items():
        print(f"{name:>12}: test accuracy {test_accuracy:.4f}")
    return results


if __name__ == "__main__":
    main()
