"""Train a PPO controller on a distribution of MNIST training tasks, then
measure it against what you would run instead.

    python examples/ppo_mnist.py        # a 2-core CPU, offline (embedded MNIST)

Every episode draws its own task (`autotrain_jax.experiments.recipes.MAIN`):
the initial LR log-uniform in [1e-4, 1], a budget of 10-30 env steps of T=10
momentum-SGD steps, 256-4096 training images, a hidden layer of 16-64 units,
label noise. 64 envs, vmapped, run 32 steps per PPO update, and all 50 updates
(102,400 env steps) run as compiled `lax.scan` chunks. The greedy controller,
as trained and without its stop action, is then evaluated from initial LRs
1e-4, 1e-2 and 1 on 8 paired seeds, against the untuned constant (the
initial LR kept), the constant LR tuned over a 9-LR grid on the holdout, and
cocob (an LR-free optax optimizer) at its defaults; the table it prints is the
README's.

Writes config.json, metrics.json, learning_curve.png, evaluation.json and
controlled_run.{csv,png} to --out (default runs/tiny), and the controller as
controller.json + policy.npz (`autotrain_jax.controllers.load(out)`).
"""

from autotrain_jax.experiments.recipes import MAIN
from autotrain_jax.experiments.train import main

if __name__ == "__main__":
    main(preset="tiny", defaults=MAIN)
