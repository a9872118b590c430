"""The classifiers being trained (Flax) and their initialisation methods."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from autotrain_jax.config import EnvConfig

INIT_METHODS = ("xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal")
_INITIALIZERS = {
    "xavier_uniform": nn.initializers.xavier_uniform(),
    "xavier_normal": nn.initializers.xavier_normal(),
    "kaiming_uniform": nn.initializers.kaiming_uniform(),
    "kaiming_normal": nn.initializers.kaiming_normal(),
}


class MLP(nn.Module):
    """Flattens the image, then ReLU layers of `hidden` widths and a linear head."""

    hidden: Sequence[int]
    num_classes: int
    kernel_init: Callable = nn.initializers.xavier_uniform()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = x.reshape(*x.shape[:-3], -1)
        for width in self.hidden:
            x = nn.relu(nn.Dense(width, kernel_init=self.kernel_init)(x))
        return nn.Dense(self.num_classes, kernel_init=self.kernel_init)(x)


class CNN(nn.Module):
    """3x3 conv + ReLU + 2x2 max-pool per channel count in `hidden`, then a head."""

    hidden: Sequence[int]
    num_classes: int
    kernel_init: Callable = nn.initializers.xavier_uniform()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for channels in self.hidden:
            x = nn.Conv(channels, (3, 3), kernel_init=self.kernel_init)(x)
            x = nn.max_pool(nn.relu(x), (2, 2), strides=(2, 2))
        x = x.reshape(*x.shape[:-3], -1)
        return nn.Dense(self.num_classes, kernel_init=self.kernel_init)(x)


def make_model(config: EnvConfig, num_classes: int, init_method: str) -> nn.Module:
    module = MLP if config.model == "mlp" else CNN
    return module(config.hidden, num_classes, _INITIALIZERS[init_method])


def make_init_fn(
    config: EnvConfig, input_shape: tuple[int, ...], num_classes: int
) -> Callable[[jax.Array, jax.Array], dict]:
    """Returns `init(key, method) -> params`, `method` an index into INIT_METHODS.

    Biases start at zero whichever method is drawn, so all methods share a tree.
    """
    dummy = jnp.zeros((1, *input_shape), jnp.float32)
    branches = [
        lambda key, m=m: make_model(config, num_classes, m).init(key, dummy)["params"]
        for m in INIT_METHODS
    ]

    def init(key: jax.Array, method: jax.Array) -> dict:
        return jax.lax.switch(method, branches, key)

    return init
