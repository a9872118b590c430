"""Where and how a result was measured: the stamp every result file carries."""

from __future__ import annotations

import os
import pathlib
import platform
import re
import sys
import time

import jax


def machine() -> str:
    """The machine in words, naming the CPU's vector width (XLA's float
    results and speed differ between AVX2 and AVX-512 machines)."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = pathlib.Path("/proc/cpuinfo")
    if cpuinfo.exists():
        text = cpuinfo.read_text()
        name = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
        flags = re.search(r"^flags\s*:(.*)$", text, re.MULTILINE)
        flags = set(flags[1].split()) if flags else set()
        vector = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else ""
        cpu = ", ".join(filter(None, [name and name[1].strip(), vector]))
    return (
        f"{cpu}, {os.cpu_count()} cores, backend {jax.default_backend()} "
        f"({jax.devices()[0].device_kind})"
    )


def vector_width(machine: str) -> str:
    """The vector width `machine()` named: "AVX-512", "AVX2", or "" if none."""
    return next((w for w in ("AVX-512", "AVX2") if f", {w}," in machine), "")


def stamp() -> dict[str, str]:
    """{"date", "machine", "jax", "command"} of this process."""
    return {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "jax": jax.__version__,
        "command": " ".join(["python", *sys.argv]),
    }
