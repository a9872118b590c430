"""Committed results pages are what the report writes from the committed JSON."""

import pathlib

ROOT = pathlib.Path(__file__).parent.parent


def test_the_steer_examples_table_is_generated_from_its_json():
    import json

    from helpers import load_script

    folder = ROOT / "benchmarks" / "steer-examples"
    results = json.loads((folder / "results.json").read_text())
    markdown = load_script("benchmarks/steer_examples.py").markdown
    assert (folder / "results.md").read_text() == markdown(results)
