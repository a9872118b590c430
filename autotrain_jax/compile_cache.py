"""JAX's persistent compilation cache for the command line and the examples."""

from __future__ import annotations

import os
import pathlib

import jax

OPT_OUT = "AUTOTRAIN_NO_COMPILE_CACHE"  # set to 1 to turn the cache off


def default_dir() -> pathlib.Path:
    """`$XDG_CACHE_HOME/autotrain_jax/jax` (default `~/.cache/autotrain_jax/jax`)."""
    base = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
    return pathlib.Path(base) / "autotrain_jax" / "jax"


def enable(disabled: bool = False) -> pathlib.Path | None:
    """Turns on JAX's persistent compilation cache (a second run of the same
    program loads it instead of compiling), unless `disabled`, ${OPT_OUT} is
    set, or a cache folder is configured already (JAX_COMPILATION_CACHE_DIR,
    which is then used as it is). Returns the folder in use, or None."""
    if disabled or os.environ.get(OPT_OUT, "") not in ("", "0"):
        return None
    configured = jax.config.jax_compilation_cache_dir
    if configured:
        return pathlib.Path(configured)
    folder = default_dir()
    folder.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    return folder
