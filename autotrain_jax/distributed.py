"""Join a multi-process run described by the environment (`jax.distributed`).

`import autotrain_jax` calls `initialize()` first thing, before anything touches
JAX's devices (gymnax's own import does), so every script and the CLI join
a multi-process run when the environment asks for one:

    AUTOTRAIN_COORDINATOR_ADDRESS=host0:1234  # process 0's host, a free port
    AUTOTRAIN_NUM_PROCESSES=2
    AUTOTRAIN_PROCESS_ID=0                    # 0 .. NUM_PROCESSES-1, one per process

or `AUTOTRAIN_DISTRIBUTED=auto` for `jax.distributed.initialize`'s cluster
auto-detection (SLURM, Open MPI, Kubernetes, Cloud TPU). With none of them set,
or one process, it does nothing. Alternatively, call `jax.distributed.initialize`
yourself before importing autotrain_jax.

Afterwards `jax.devices()` lists the devices of all processes, and
`agents.ppo.run.train_in_chunks` splits the env batch over the processes.
"""

from __future__ import annotations

import os
import socket

import jax

COORDINATOR = "AUTOTRAIN_COORDINATOR_ADDRESS"
NUM_PROCESSES = "AUTOTRAIN_NUM_PROCESSES"
PROCESS_ID = "AUTOTRAIN_PROCESS_ID"
AUTO = "AUTOTRAIN_DISTRIBUTED"


def initialize() -> bool:
    """Starts `jax.distributed` as the environment says (see the module's doc).

    Returns:
      True if the multi-process runtime is running (started now or before).

    Raises:
      ValueError: on a setting that is not an integer, a process count below 1,
        a process id outside [0, num_processes), an $AUTOTRAIN_DISTRIBUTED other
        than "auto".
    """
    if jax.distributed.is_initialized():
        return True
    auto = os.environ.get(AUTO)
    if auto not in (None, "auto"):
        raise ValueError(f'${AUTO} must be "auto" or unset, got {auto!r}')
    coordinator = os.environ.get(COORDINATOR)
    num_processes = _integer(NUM_PROCESSES)
    process_id = _integer(PROCESS_ID)
    if auto is None and (coordinator, num_processes, process_id) == (None,) * 3:
        return False
    if num_processes is not None and num_processes < 1:
        raise ValueError(f"${NUM_PROCESSES} must be >= 1, got {num_processes}")
    if None not in (num_processes, process_id) and not 0 <= process_id < num_processes:
        raise ValueError(
            f"${PROCESS_ID} must be in [0, ${NUM_PROCESSES}={num_processes}), "
            f"got {process_id}"
        )
    if num_processes == 1:
        return False
    # CPU processes exchange collectives over gloo (not every jax's default).
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator, num_processes, process_id)
    return True


def local_environments(num_processes: int) -> list[dict[str, str]]:
    """The variables that make `num_processes` processes on this host one run.

    Each dict is one process's additions to its environment, process 0 first;
    the coordinator listens on a free loopback port, as a cluster's hosts
    would talk over the network (tests and `benchmarks/throughput.py` launch
    local runs this way).

    Raises:
      ValueError: if `num_processes` < 1.
    """
    if num_processes < 1:
        raise ValueError(f"num_processes must be >= 1, got {num_processes}")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return [
        {
            COORDINATOR: f"127.0.0.1:{port}",
            NUM_PROCESSES: str(num_processes),
            PROCESS_ID: str(process_id),
        }
        for process_id in range(num_processes)
    ]


def _integer(variable: str) -> int | None:
    """The integer in $`variable`, None if unset."""
    text = os.environ.get(variable)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"${variable} must be an integer, got {text!r}") from None
