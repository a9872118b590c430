#!/usr/bin/env bash
# The throughput benchmark on one GPU (8 min 21 s on one H200, 2026-12-04): writes
# $RESULTS/results-gpu.{json,md} (mnist-mlp, with PPO end to end) and
# $RESULTS/results-gpu-tiny.{json,md}; RESULTS defaults to benchmarks/.
# Needs jax with CUDA, flax, optax, chex, orbax-checkpoint, gymnax and gymnasium;
# uses the embedded MNIST subset (no tensorflow-datasets, no network).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
results="${RESULTS:-benchmarks}"
python3 -c "import jax; print(jax.__version__, jax.devices())"
python3 benchmarks/throughput.py --envs 1,64,256,1024 --inner-steps 10,50 --steps 8 \
  --repeats 3 --ppo --out "$results/results-gpu.json" "$@"
python3 benchmarks/throughput.py --preset tiny --envs 64,1024 --inner-steps 10,50 \
  --steps 8 --repeats 3 --actions random,keep --out "$results/results-gpu-tiny.json" "$@"
