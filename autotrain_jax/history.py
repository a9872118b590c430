"""A fixed-size ring buffer of weight snapshots: rewinding is an index operation."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class WeightHistory:
    """The last H snapshots of (classifier weights, optimizer state).

    The newest entry always equals the current weights, so `count >= 1`.
    """

    snapshots: Any  # pytree, every leaf (H, ...)
    head: jax.Array  # () int32, slot of the newest entry
    count: jax.Array  # () int32 in [1, H], valid entries

    @classmethod
    def create(cls, snapshot: Any, size: int) -> WeightHistory:
        """A history of `size` slots holding `snapshot` as its only entry."""
        snapshots = jax.tree.map(
            lambda leaf: jnp.broadcast_to(leaf, (size, *jnp.shape(leaf))), snapshot
        )
        return cls(snapshots, jnp.int32(0), jnp.int32(1))

    @property
    def size(self) -> int:
        """H, the number of slots."""
        return jax.tree.leaves(self.snapshots)[0].shape[0]

    def newest(self) -> Any:
        """The most recently pushed snapshot."""
        return jax.tree.map(lambda leaf: leaf[self.head], self.snapshots)

    def push(self, snapshot: Any, where: jax.Array | bool = True) -> WeightHistory:
        """Appends `snapshot` if `where`, overwriting the oldest entry when full.

        With `where` False the buffer is unchanged; only one slot is read and
        rewritten either way, so a masked push under `vmap` stays cheap.
        """
        slot = (self.head + 1) % self.size
        snapshots = jax.tree.map(
            lambda buf, leaf: buf.at[slot].set(jnp.where(where, leaf, buf[slot])),
            self.snapshots,
            snapshot,
        )
        head = jnp.where(where, slot, self.head)
        count = jnp.where(where, jnp.minimum(self.count + 1, self.size), self.count)
        return WeightHistory(snapshots, head, count)

    def restart(self, snapshot: Any, where: jax.Array | bool = True) -> WeightHistory:
        """If `where`, forgets every entry and holds only `snapshot`."""
        history = self.push(snapshot, where)
        return history.replace(count=jnp.where(where, 1, history.count))

    def drop(self, num: jax.Array) -> WeightHistory:
        """Drops the `num` newest entries, keeping at least the oldest one."""
        num = rewind_depth(num, self.count)
        return self.replace(head=(self.head - num) % self.size, count=self.count - num)


def rewind_depth(rewind, count):
    """How many of `count` entries a rewind of `rewind` drops: never the oldest.
    The env and `controllers.Steering` both rewind by it (traced or not)."""
    return jnp.clip(rewind, 0, count - 1)


def rewind_reinitialises(
    past_oldest: str, rewind: jax.Array, count: jax.Array, stop: jax.Array
) -> jax.Array:
    """Whether a rewind re-initialises rather than stopping at the oldest entry:
    with `rewind_past_oldest="reinit"` (`EnvConfig`), one of `rewind` steps
    reaches past the oldest of `count` entries; a stop never re-initialises.
    The env and `controllers.Steering` both decide by it (traced or not)."""
    if past_oldest != "reinit":
        return jnp.bool_(False)
    return jnp.logical_and(jnp.asarray(rewind) >= count, jnp.logical_not(stop))
