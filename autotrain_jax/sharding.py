"""Spread the environment batch axis over devices with `jax.sharding` (SPMD).

Build a mesh over the local (or, after `distributed.initialize()`, global)
devices, place every batched array with its leading axis split over the mesh,
and call the same jitted, vmapped functions: XLA partitions them (GSPMD), each
device stepping its own slice of environments. Data and agent parameters are
replicated. Across processes, each process supplies only its own rows
(`local_rows`, `envs_from_local`).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "envs"


def env_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh named `envs` over `devices` (default: all devices, of every
    process)."""
    devices = jax.devices() if devices is None else list(devices)
    return Mesh(np.array(devices), (AXIS,))


def env_sharding(mesh: Mesh, ndim: int = 1) -> NamedSharding:
    """Leading axis split over the mesh, the other `ndim - 1` axes whole."""
    return NamedSharding(mesh, PartitionSpec(AXIS, *([None] * (ndim - 1))))


def shard_envs(tree, mesh: Mesh):
    """Places `tree` (leaves [B, ...]) with B split over the mesh (one process).

    Raises:
      ValueError: if B is not a multiple of the mesh's device count.
    """

    def place(leaf):
        _check_divisible(leaf.shape[0], mesh)
        return jax.device_put(leaf, env_sharding(mesh, leaf.ndim))

    return jax.tree.map(place, tree)


def replicate(tree, mesh: Mesh):
    """Places `tree` whole on every device of the mesh (data, agent params).

    Across processes, every process passes the same `tree`.
    """
    sharding = NamedSharding(mesh, PartitionSpec())
    return _on_key_data(
        lambda leaf: jax.make_array_from_process_local_data(sharding, leaf), tree
    )


def local_rows(num_envs: int, mesh: Mesh) -> slice:
    """The rows of a batch of `num_envs` envs that this process's devices hold.

    Raises:
      ValueError: if `num_envs` is not a multiple of the mesh's device count.
    """
    _check_divisible(num_envs, mesh)
    held = env_sharding(mesh).addressable_devices_indices_map((num_envs,))
    starts = sorted(index[0].indices(num_envs)[0] for index in held.values())
    per_device = num_envs // mesh.devices.size
    rows = slice(starts[0], starts[0] + per_device * len(starts))
    if starts != list(range(rows.start, rows.stop, per_device)):
        raise ValueError(f"this process's devices hold scattered rows {starts}")
    return rows


def envs_from_local(tree, mesh: Mesh, num_envs: int):
    """Global arrays (leaves [num_envs, ...], split over the mesh) from this
    process's rows `tree` (leaves [len(local_rows(num_envs, mesh)), ...])."""

    def place(leaf):
        shape = (num_envs, *leaf.shape[1:])
        return jax.make_array_from_process_local_data(
            env_sharding(mesh, leaf.ndim), leaf, shape
        )

    return _on_key_data(place, tree)


def _check_divisible(num_envs: int, mesh: Mesh) -> None:
    if num_envs % mesh.devices.size:
        raise ValueError(
            f"the env batch ({num_envs}) must be a multiple of the device count "
            f"({mesh.devices.size})"
        )


def _on_key_data(place, tree):
    """`place` applied to every array leaf, typed PRNG keys through their raw data."""

    def leaf_fn(leaf):
        if not hasattr(leaf, "dtype"):  # a Python scalar: jit replicates it
            return leaf
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            return jax.random.wrap_key_data(
                place(jax.random.key_data(leaf)), impl=jax.random.key_impl(leaf)
            )
        return place(leaf)

    return jax.tree.map(leaf_fn, tree)
