"""A sequential PyTorch version of the AutoTrain MDP, written the way one would by hand.

One environment at a time; the weight history is a deque of deep-copied
state dicts. Same sizes as the `mnist-mlp` preset (MLP 784-128-64-10, momentum
SGD, batch 64, Thresholdout on 256 + 256 examples, H = 5). Used by
throughput.py --torch; needs `pip install -e '.[bench]'` (torch==2.13.0, CPU).
"""

from __future__ import annotations

import collections
import copy
import time

import numpy as np
import torch
from torch import nn

import autotrain_jax as at


class TorchAutoTrain:
    def __init__(self, data, inner_steps, loss_every, history=5, batch=64, seed=0):
        self.generator = torch.Generator().manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        mean, std = float(data.mean[0]), float(data.std[0])

        def tensor(x):
            return (torch.from_numpy(np.asarray(x, np.float32)) - mean) / std

        self.train_x, self.train_y = (
            tensor(data.train_x),
            torch.from_numpy(np.asarray(data.train_y)).long(),
        )
        self.holdout_x = tensor(data.holdout_x)
        self.holdout_y = torch.from_numpy(np.asarray(data.holdout_y)).long()
        self.inner_steps, self.loss_every, self.batch = inner_steps, loss_every, batch
        self.model = nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 128),
            nn.ReLU(),
            nn.Linear(128, 64),
            nn.ReLU(),
            nn.Linear(64, 10),
        )
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
        self.history = collections.deque(maxlen=history)
        self.records = collections.deque(maxlen=history)
        self.history.append(self._snapshot())
        self.score = 0.0

    def _snapshot(self):
        return copy.deepcopy(self.model.state_dict()), copy.deepcopy(
            self.optimizer.state_dict()
        )

    def _accuracy(self, x, y, size=256):
        idx = torch.randint(0, len(y), (size,), generator=self.generator)
        with torch.no_grad():
            return (self.model(x[idx]).argmax(-1) == y[idx]).float().mean().item()

    def step(self, lr_factor: float, rewind: int):
        for group in self.optimizer.param_groups:
            group["lr"] = min(max(group["lr"] * lr_factor, 1e-5), 1.0)
        for _ in range(min(rewind, len(self.history) - 1)):
            self.history.pop()
        model_state, optimizer_state = self.history[-1]
        lr = self.optimizer.param_groups[0]["lr"]
        self.model.load_state_dict(model_state)
        self.optimizer.load_state_dict(optimizer_state)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        losses = []
        for _ in range(self.inner_steps):
            idx = torch.randint(
                0, len(self.train_y), (self.batch,), generator=self.generator
            )
            loss = nn.functional.cross_entropy(
                self.model(self.train_x[idx]), self.train_y[idx]
            )
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            losses.append(loss.item())
        train_acc = self._accuracy(self.train_x, self.train_y)
        holdout_acc = self._accuracy(self.holdout_x, self.holdout_y)
        noisy_threshold = 0.01 + self.rng.normal(0, 0.02)
        if abs(train_acc - holdout_acc) > noisy_threshold:
            self.score = holdout_acc + self.rng.normal(0, 0.005)
        else:
            self.score = train_acc
        self.history.append(self._snapshot())
        block = np.reshape(losses, (-1, self.loss_every)).mean(axis=1)
        self.records.append([*block, lr, self.score])
        return np.array(self.records, np.float32)


def bench_torch(inner_steps: int, steps: int = 4, data_dir=None) -> float:
    """Env steps per second of the sequential PyTorch environment (random actions)."""
    _, params = at.make_env("mnist-mlp", data_dir=data_dir)
    env = TorchAutoTrain(params.data, inner_steps, max(1, inner_steps // 5))
    rng = np.random.default_rng(0)
    env.step(1.0, 0)  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        env.step(float(rng.choice([0.9, 1.0, 1.1])), int(rng.integers(0, 5)))
    return steps / (time.perf_counter() - start)
