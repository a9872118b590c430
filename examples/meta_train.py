"""Meta-train a controller on a distribution of cheap tasks, then evaluate it.

    python examples/meta_train.py --out runs/meta-1m     # 1.02M env steps
    python examples/meta_train.py --recipe meta-mix --out runs/mix-1m
    python examples/meta_train.py --recipe meta-mix-grouped --out runs/mixg-1m
    python examples/meta_train.py --recipe meta-mix-wide --seed 1 --out runs/wide-1m
    python examples/meta_train.py --num-updates 25 --checkpoint-every 5 \
        --out runs/meta-100k                                # 102k
    python examples/meta_train.py --num-updates 3 --checkpoint-every 1 \
        --out runs/meta-10k                                 # 12k

Every episode draws its own task (`--recipe meta-tiny`, the default): the
initial LR log-uniform in [1e-4, 1], a budget of 10-30 env steps (T=10 inner
momentum-SGD steps each), 256-4096 MNIST training images, an MLP whose hidden
layer has 16-64 units, and label noise: a share of 0-80% of the labels replaced
by random classes, so that a low accuracy is not always a diverged run (without
it the controller re-initialised every CNN run on CIFAR-10). The agent sees
scale-free records (losses relative to the episode's first, log10 LR, score,
training accuracy, progress), acts in the `reduced` set (LR x 0.2 ... x 1.8,
re-init, stop) and is paid the change of the Thresholdout score plus 10x the
final score (`delta`). `--recipe meta-mix` also draws the inner optimizer from
SGD, momentum, Adam and RMSProp, budgets of 10-150, and shows the agent each
block's relative weight change; `--recipe meta-mix-grouped` is that distribution
with the batch grouped by inner optimizer (32 envs each, stepping their own
optimizer only: `PPOConfig.group_envs`), faster (`recipe-speed-mix.md` in
benchmarks/), and `--recipe meta-mix-wide` is that with LR moves that reach
x10 and x0.1 a block. Checkpoints every 10 updates; rerunning the command
resumes from the newest. Writes what `examples/ppo_mnist.py` writes; every flag but
`--recipe` is its.

The shipped `meta-tiny-v1` is `meta-tiny`'s run (`meta-tiny-v0` predates the
label noise: `--env label_noise=None` reproduces it), `meta-mix-v2` is
`meta-mix`'s run with seed 0 (`meta-mix-v2-nostop` is it with its stop
action taken out), `meta-mix-v3` is `meta-mix-wide`'s run with seed 1, and
the default, `meta-mix-v4-nostop`, pools `meta-mix-wide`'s seeds 0, 1 and 2
(`controllers.ensemble`) with their stop action taken out.
"""

import argparse

from autotrain_jax.experiments.recipes import RECIPES
from autotrain_jax.experiments.train import main


def run(argv=None) -> dict:
    """`train.main` with the recipe `--recipe` names as its defaults."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="meta-tiny")
    known, rest = parser.parse_known_args(argv)
    return main(rest, preset="tiny", defaults=RECIPES[known.recipe])


if __name__ == "__main__":
    run()
