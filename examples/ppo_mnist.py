"""Train a PPO controller that steers an MLP's training on MNIST, then evaluate it.

    python examples/ppo_mnist.py        # a 2-core CPU, offline (embedded MNIST)
    python examples/ppo_mnist.py --data-dir DIR --num-envs 256 --num-updates 200

Writes config.json, metrics.json, learning_curve.png, evaluation.json and
controlled_run.{csv,png} to --out (default runs/mnist-mlp), and the controller as
controller.json + policy.npz (`autotrain_jax.controllers.load(out)`).
"""

from autotrain_jax.experiments.train import main

if __name__ == "__main__":
    main(preset="mnist-mlp")
