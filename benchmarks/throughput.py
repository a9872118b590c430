"""Env throughput against the bare-training ceilings, PyTorch, PPO and device
count (`autotrain_jax.experiments.throughput`, also `autotrain-jax bench`).

    python benchmarks/throughput.py --quick              # < 2 min on 2 CPU cores
    python benchmarks/throughput.py --preset mnist-mlp --envs 16,64 \
        --inner-steps 10,50 --torch --out benchmarks/results-cpu.json
"""

from autotrain_jax.experiments.throughput import main, markdown  # noqa: F401

if __name__ == "__main__":
    main()
