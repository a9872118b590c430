"""The classifiers being trained (Flax) and their initialisation methods."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from autotrain_jax import fast_random
from autotrain_jax.config import EnvConfig

INIT_METHODS = ("xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal")
_TRUNCATED_NORMAL_STD = 0.87962566103423978  # std of N(0, 1) truncated to [-2, 2]


def method_initializer(method: jax.Array) -> Callable:
    """A kernel initializer for a (traced) index into INIT_METHODS.

    Matches flax's glorot/he uniform and truncated-normal initializers, picking
    the method with `jnp.where` so that one trace serves all four. Both draws come
    from one uniform sample (the normal one by inverse CDF, as
    `jax.random.truncated_normal` does), so a vmapped re-init pays for one, and
    from `fast_random` (a counter hash, 17x cheaper than threefry on CPU).
    """

    def init(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
        receptive = math.prod(shape[:-2])
        fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
        xavier, uniform = method < 2, method % 2 == 0
        std = jnp.sqrt(jnp.where(xavier, 2.0 / (fan_in + fan_out), 2.0 / fan_in))
        u = fast_random.uniform(key, shape, dtype, -1.0, 1.0)
        normal = math.sqrt(2.0) * jax.lax.erf_inv(u * math.erf(math.sqrt(2.0)))
        draw = jnp.where(uniform, u * math.sqrt(3.0), normal / _TRUNCATED_NORMAL_STD)
        return draw * std

    return init


class MLP(nn.Module):
    """Flattens the image, then ReLU layers of `hidden` widths and a linear head."""

    hidden: Sequence[int]
    num_classes: int
    kernel_init: Callable = nn.initializers.xavier_uniform()  # any INIT_METHODS

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = x.reshape(*x.shape[:-3], -1)
        for width in self.hidden:
            x = nn.relu(nn.Dense(width, kernel_init=self.kernel_init)(x))
        return nn.Dense(self.num_classes, kernel_init=self.kernel_init)(x)


def patches3x3(x: jax.Array) -> jax.Array:
    """The 3x3 SAME neighbourhood of every pixel of NHWC `x`: (..., H, W, 9 * C),
    tap-major (row, column, then channel), zeros beyond the border.

    Nine shifted slices of the padded image, concatenated: their gradient is
    slices and adds, where `lax.conv_general_dilated_patches`'s is a transposed
    convolution (2.9x slower training of the cifar10-cnn preset on CPU).
    """
    height, width = x.shape[-3:-1]
    padded = jnp.pad(x, [(0, 0)] * (x.ndim - 3) + [(1, 1), (1, 1), (0, 0)])
    taps = [
        padded[..., i : i + height, j : j + width, :]
        for i in range(3)
        for j in range(3)
    ]
    return jnp.concatenate(taps, axis=-1)


def max_pool2x2(x: jax.Array) -> jax.Array:
    """2x2 max-pool with stride 2 (VALID: an odd last row or column is dropped),
    as a reshape and a max: its gradient is elementwise, where `nn.max_pool`'s is
    XLA's select-and-scatter, slow on CPU. Ties share the gradient instead of
    the first taking it all; after a ReLU, ties other than at 0 (where the
    gradient is 0 anyway) have probability 0.
    """
    *lead, height, width, channels = x.shape
    h, w = height // 2, width // 2
    x = x[..., : 2 * h, : 2 * w, :].reshape(*lead, h, 2, w, 2, channels)
    return x.max(axis=(-4, -2))


class Conv3x3(nn.Module):
    """A 3x3, stride-1, SAME convolution with an (3, 3, C, F) HWIO kernel.

    On CPU it runs as patches @ kernel (im2col, `patches3x3`): XLA's CPU
    kernel-gradient convolution is slow for these sizes (measured 6.5x slower
    training of the cifar10-cnn preset). Elsewhere it is
    `lax.conv_general_dilated`. Both compute the same function of the same
    parameters.
    """

    features: int
    kernel_init: Callable = nn.initializers.xavier_uniform()
    im2col: bool | None = None  # None: im2col on the CPU backend only

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        channels = x.shape[-1]
        kernel = self.param("kernel", self.kernel_init, (3, 3, channels, self.features))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        im2col = jax.default_backend() == "cpu" if self.im2col is None else self.im2col
        if not im2col:
            dims = ("NHWC", "HWIO", "NHWC")
            y = jax.lax.conv_general_dilated(
                x, kernel, (1, 1), "SAME", dimension_numbers=dims
            )
            return y + bias
        return patches3x3(x) @ kernel.reshape(9 * channels, self.features) + bias


class CNN(nn.Module):
    """3x3 conv + ReLU + 2x2 max-pool per channel count in `hidden`, then a head."""

    hidden: Sequence[int]
    num_classes: int
    kernel_init: Callable = nn.initializers.xavier_uniform()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for channels in self.hidden:
            x = max_pool2x2(nn.relu(Conv3x3(channels, self.kernel_init)(x)))
        x = x.reshape(*x.shape[:-3], -1)
        return nn.Dense(self.num_classes, kernel_init=self.kernel_init)(x)


def make_model(config: EnvConfig, num_classes: int, kernel_init=None) -> nn.Module:
    """The classifier `config.model` names, `num_classes` outputs (Xavier
    uniform kernels unless `kernel_init` is given)."""
    module = MLP if config.model == "mlp" else CNN
    kernel_init = kernel_init or nn.initializers.xavier_uniform()
    return module(config.hidden, num_classes, kernel_init)


def make_init_fn(
    config: EnvConfig, input_shape: tuple[int, ...], num_classes: int
) -> Callable[[jax.Array, jax.Array], dict]:
    """Returns `init(key, method) -> params`, `method` an index into INIT_METHODS.

    Biases start at zero whichever method is drawn.
    """
    dummy = jnp.zeros((1, *input_shape), jnp.float32)

    def init(key: jax.Array, method: jax.Array) -> dict:
        model = make_model(config, num_classes, method_initializer(method))
        return model.init(key, dummy)["params"]

    return init


def mask_widths(
    params: dict, widths: jax.Array, method: jax.Array, input_dim: int
) -> dict:
    """A fresh MLP's weights with only the first `widths[i]` units of hidden
    layer i: the kernels into and out of the other units are zeroed, and the
    kept kernels rescaled to the std their method gives at the narrower fans.

    Training never moves the zeros: a masked unit's pre-activation is 0, where
    ReLU's derivative is 0, and its output is 0, so every gradient into or out
    of it is 0 (and so are momentum's and Adam's updates). The network is
    exactly an MLP of those widths, with static shapes.
    """
    layers = sorted(params, key=lambda name: int(name.split("_")[-1]))
    kept_in = input_dim
    masked = {}
    for i, name in enumerate(layers):
        kernel = params[name]["kernel"]
        fan_in, fan_out = kernel.shape
        kept_out = widths[i] if i < len(widths) else fan_out
        rows = jnp.arange(fan_in)[:, None] < kept_in
        cols = jnp.arange(fan_out)[None, :] < kept_out
        xavier = jnp.sqrt((fan_in + fan_out) / (kept_in + kept_out))
        kaiming = jnp.sqrt(fan_in / kept_in)
        scale = jnp.where(method < 2, xavier, kaiming)
        masked[name] = {**params[name], "kernel": kernel * scale * (rows & cols)}
        kept_in = kept_out
    return masked
