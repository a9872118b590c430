"""Every python block of README.md and docs/ runs, top to bottom per page, as a
reader would run it; a block marked `<!-- run by tests/FILE.py -->` runs there
instead, and one marked `<!-- not run: REASON -->` says why it cannot."""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = ["README.md", *sorted(p.name for p in (ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(
    r"(?:<!-- (run by|not run:) ([^\n]*?) -->\n)?```python\n(.*?)```", re.S
)


def _path(page: str) -> pathlib.Path:
    return ROOT / page if page == "README.md" else ROOT / "docs" / page


def blocks(page: str) -> list[tuple[str | None, str, str]]:
    """(mark, what the mark says, code) of each python block of `page`."""
    return [m.groups() for m in BLOCK.finditer(_path(page).read_text())]


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p)])
def test_every_python_block_runs(page):
    scope = {"__name__": f"docs:{page}"}
    for mark, _, code in blocks(page):
        if mark is None:
            exec(compile(code, f"{page} block", "exec"), scope)


def test_every_block_not_run_here_says_where_or_why():
    for page in PAGES:
        for mark, said, _ in blocks(page):
            if mark == "run by":
                test = ROOT / said
                assert test.is_file(), f"{page}: {said} does not exist"
                assert f'"{page}"' in test.read_text(), f"{said} never reads {page}"
            elif mark == "not run:":
                assert len(said.split()) >= 3, f"{page}: say why a block does not run"
