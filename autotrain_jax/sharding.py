"""Spread the environment batch axis over devices with `jax.sharding` (SPMD).

Build a mesh over the local (or, after `jax.distributed.initialize()`, global)
devices, place every batched array with its leading axis split over the mesh,
and call the same jitted, vmapped functions: XLA partitions them (GSPMD), each
device stepping its own slice of environments. Data and agent parameters are
replicated.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "envs"


def env_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh named `envs` over `devices` (default: all devices)."""
    devices = jax.devices() if devices is None else list(devices)
    return Mesh(np.array(devices), (AXIS,))


def shard_envs(tree, mesh: Mesh):
    """Places `tree` (leaves [B, ...]) with B split over the mesh.

    B must be a multiple of the number of devices.
    """
    size = mesh.devices.size

    def place(leaf):
        if leaf.shape[0] % size:
            raise ValueError(
                f"the env batch ({leaf.shape[0]}) must be a multiple of the "
                f"device count ({size})"
            )
        spec = PartitionSpec(AXIS, *([None] * (leaf.ndim - 1)))
        return jax.device_put(leaf, NamedSharding(mesh, spec))

    return jax.tree.map(place, tree)


def replicate(tree, mesh: Mesh):
    """Places `tree` whole on every device of the mesh (data, agent params)."""
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))
