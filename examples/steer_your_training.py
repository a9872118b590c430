"""A trained controller steering *your* training: your Flax model, your optax
optimizer, your arrays. No environment involved.

    python examples/steer_your_training.py                   # from LR 1e-4
    python examples/steer_your_training.py --initial-lr 0.01

Trains the same MLP twice from the same weights and minibatches, at a constant
LR and with a controller (`--controller`: a shipped name or a run folder;
`controllers.DEFAULT` by default) choosing the LR every 10 steps, and prints
both test accuracies. The arrays here are the MNIST subset embedded in the
package; put your own in their place.
"""

from __future__ import annotations

import argparse

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from autotrain_jax import controllers
from autotrain_jax.data import EMBEDDED_MNIST


class MLP(nn.Module):  # your model
    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Dense(64)(x.reshape(x.shape[0], -1)))
        return nn.Dense(10)(x)


def your_arrays():
    """(train, holdout, test) as (x float32 in [0, 1], y int32) pairs."""
    with np.load(EMBEDDED_MNIST) as data:
        x, y = data["x"].astype(np.float32) / 255.0, data["y"].astype(np.int32)
    return (x[:2048], y[:2048]), (x[2048:2560], y[2048:2560]), (x[8000:], y[8000:])


def accuracy(model, params, x, y) -> float:
    return float(jnp.mean(jnp.argmax(model.apply(params, x), -1) == y))


def train(initial_lr: float, blocks: int, seed: int, controller=None) -> float:
    """Trains `blocks` x T steps; returns the test accuracy (steered if a
    controller is given, else at the constant `initial_lr`)."""
    (x, y), (hold_x, hold_y), (test_x, test_y) = your_arrays()
    model = MLP()
    key_init, key_batches = jax.random.split(jax.random.key(seed))
    params = model.init(key_init, x[:1])
    optimizer = optax.sgd(initial_lr, momentum=0.9)
    period = 10
    if controller is not None:
        period = controller.env_config.inner_steps
        steer = controllers.steer(controller, initial_lr=initial_lr, budget=blocks)
        optimizer = optax.chain(optimizer, steer)
    opt_state = optimizer.init(params)
    steering = (
        controllers.Steering(controller, optimizer, params, opt_state)
        if controller is not None
        else None
    )

    @jax.jit
    def step(params, opt_state, batch_x, batch_y, score, train_accuracy):
        def loss_fn(params):
            logits = model.apply(params, batch_x)
            return optax.softmax_cross_entropy_with_integer_labels(
                logits, batch_y
            ).mean()

        loss, grads = jax.value_and_grad(loss_fn)(params)
        extra = {"value": loss, "score": score, "train_accuracy": train_accuracy}
        if controller is None:
            extra = {}
        updates, opt_state = optimizer.update(grads, opt_state, params, **extra)
        return optax.apply_updates(params, updates), opt_state

    score = train_accuracy = 0.0
    for t in range(blocks * period):
        if (t + 1) % period == 0:  # the block's last update reports the score
            score = accuracy(model, params, hold_x, hold_y)
            train_accuracy = accuracy(model, params, x[:512], y[:512])
        index = jax.random.randint(jax.random.fold_in(key_batches, t), (32,), 0, len(x))
        params, opt_state = step(
            params, opt_state, x[index], y[index], score, train_accuracy
        )
        if steering is not None:
            params, opt_state, stop = steering.after_step(params, opt_state)
            if stop:
                break
    return accuracy(model, params, test_x, test_y)


def main(argv=None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--initial-lr", type=float, default=1e-4)
    parser.add_argument("--blocks", type=int, default=30, help="budget: blocks of T")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--controller", default=controllers.DEFAULT)
    args = parser.parse_args(argv)
    controller = controllers.load(args.controller)
    results = {
        "constant LR": train(args.initial_lr, args.blocks, args.seed),
        "controller": train(args.initial_lr, args.blocks, args.seed, controller),
    }
    for name, test_accuracy in results.items():
        print(f"{name:>12}: test accuracy {test_accuracy:.4f}")
    return results


if __name__ == "__main__":
    main()
