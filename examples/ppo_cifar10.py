"""Train a PPO controller that steers a small CNN's training on CIFAR-10.

    python examples/ppo_cifar10.py --data-dir ../shared/data   # cifar10_*.npz, or tfds

CIFAR-10 is not embedded: give --data-dir (or $AUTOTRAIN_DATA_DIR) or prepare it with
tensorflow-datasets. Outputs as examples/ppo_mnist.py, under runs/cifar10-cnn.
"""

from autotrain_jax.experiments.train import main

if __name__ == "__main__":
    main(
        preset="cifar10-cnn",
        defaults={
            "num_envs": 8,
            "num_steps": 8,
            "num_updates": 10,
            "eval_lrs": (1e-4, 1e-3, 1e-2),  # Adam's usual LRs, the preset's between
        },
    )
