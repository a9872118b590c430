"""examples/steer_pytorch.py's task over paired seeds: a torch MLP on the
embedded MNIST by momentum SGD, at a constant LR and steered by each
controller, from the same weights and minibatches per seed.

    python benchmarks/steer_seeds.py --controller meta-mix-v4-nostop \
        --controller meta-mix-v2-nostop --out benchmarks/steer-seeds

Writes results.json (every test accuracy, with the date, machine and command)
and results.md into --out: per initial LR, each row's mean test accuracy and,
for the controllers, the paired difference to the constant LR (95% CI over
seeds). Earlier committed runs there keep their own names (noreinit.json,
d41ecf7.json).
"""

from __future__ import annotations

import argparse
import pathlib

import numpy as np

from autotrain_jax import controllers
from autotrain_jax.evaluation import summarize
from autotrain_jax.experiments.provenance import stamp

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONSTANT = "constant LR"


def markdown(results: dict) -> str:
    """The table of `results` (results.json's content)."""
    rows = list(next(iter(results["accuracy"].values())))
    lines = [
        f"Measured {results['date']} on {results['machine']}, jax {results['jax']}, "
        f"{results['seeds']} paired seeds, {results['blocks']} blocks of 10 steps: "
        f"`{results['command']}`",
        "",
        "Test accuracy %; in brackets the row minus the constant LR, ± 95% CI:",
        "",
        "| initial LR | " + " | ".join(rows) + " |",
        "|---|" + "---|" * len(rows),
    ]
    for lr0, by_row in results["accuracy"].items():
        constant = np.asarray(by_row[CONSTANT])
        cells = []
        for row, accuracy in by_row.items():
            cell = f"{100 * np.mean(accuracy):.1f}"
            if row != CONSTANT:
                d = summarize(100 * (np.asarray(accuracy) - constant))
                cell += f" ({d['mean']:+.1f} ± {d['ci95']:.1f})"
            cells.append(cell)
        lines.append(f"| {lr0} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--controller", action="append", default=None)
    parser.add_argument("--lrs", default="0.0001,0.01,1")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--out", default="benchmarks/steer-seeds")
    args = parser.parse_args(argv)
    from steer_examples import load_example, write

    train = load_example("steer_pytorch.py").train
    names = args.controller or [controllers.DEFAULT]
    loaded = {f"controller {pathlib.Path(n).name}": controllers.load(n) for n in names}
    seeds = range(args.seeds)
    results = {**stamp(), "seeds": args.seeds, "blocks": args.blocks, "accuracy": {}}
    for lr0 in (float(x) for x in args.lrs.split(",")):
        by_row = {CONSTANT: [train(lr0, args.blocks, s) for s in seeds]}
        for row, controller in loaded.items():
            by_row[row] = [train(lr0, args.blocks, s, controller) for s in seeds]
        results["accuracy"][f"{lr0:g}"] = by_row
    return write(results, args.out, markdown)


if __name__ == "__main__":
    main()
