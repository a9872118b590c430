"""The two steering examples' tables, from data: examples/steer_your_training.py
(optax) and examples/steer_pytorch.py (torch), each from the same initial LRs,
constant LR against the default controller (`controllers.DEFAULT`), one seed
each.

    python benchmarks/steer_examples.py --out benchmarks/steer-examples

Writes results.json (every accuracy, with the date, machine and command) and
results.md, the table the docs include (`markdown` writes it from the JSON; a
test holds them equal).
"""

from __future__ import annotations

import argparse
import json
import pathlib

from autotrain_jax import controllers
from autotrain_jax.experiments.provenance import stamp

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = {"optax": "steer_your_training.py", "torch": "steer_pytorch.py"}
INITIAL_LRS = (1e-4, 1e-2, 1e-1, 1.0)


def load_example(script: str):
    """`examples/<script>` as a module (its `train` is the example's own loop)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(script, ROOT / "examples" / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def markdown(results: dict) -> str:
    """The table of `results` (results.json's content)."""
    lines = [
        f"Measured {results['date']} on {results['machine']}, jax {results['jax']}, "
        f"one seed each (an illustration, not a study): `{results['command']}`",
        "",
        f"| example | initial LR | constant LR | controller {results['controller']} |",
        "|---|---|---|---|",
    ]
    for example, rows in results["examples"].items():
        for lr0, row in rows.items():
            lines.append(
                f"| {example} | {lr0} | {row['constant LR']:.4f} "
                f"| {row['controller']:.4f} |"
            )
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="benchmarks/steer-examples")
    parser.add_argument("--blocks", type=int, default=30)
    args = parser.parse_args(argv)
    results = {**stamp(), "controller": controllers.DEFAULT, "examples": {}}
    for example, script in EXAMPLES.items():
        module = load_example(script)
        results["examples"][example] = {
            f"{lr0:g}": module.main(
                ["--initial-lr", str(lr0), "--blocks", str(args.blocks)]
            )
            for lr0 in INITIAL_LRS
        }
    return write(results, args.out, markdown)


def write(results: dict, out: str, page) -> dict:
    """`out`/results.json and `out`/results.md (`page(results)`); returns `results`."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "results.md").write_text(page(results))
    return results


if __name__ == "__main__":
    main()
