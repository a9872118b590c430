#!/usr/bin/env bash
# The throughput benchmark on one GPU, in under ~5 minutes; writes benchmarks/results-gpu.{json,md}.
# Needs jax with CUDA, flax, optax, chex, orbax-checkpoint; uses the embedded MNIST
# subset (no tensorflow-datasets, no network).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
python -c "import jax; print(jax.devices())"
python benchmarks/throughput.py --envs 1,64,256,1024 --inner-steps 10,50 --steps 8 \
  --repeats 3 --ppo --out benchmarks/results-gpu.json "$@"
