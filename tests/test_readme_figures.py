"""Figures between the bench markers (README.md, docs/benchmarks.md) are what the scripts render from the committed results
files (``bench/readme_block.py``): a figure typed by hand, or a results file updated without its
block, fails here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import readme_block  # noqa: E402


def test_every_readme_block_has_a_script_and_a_results_file():
    found = readme_block.readme_blocks()
    assert set(found) == set(readme_block.BLOCKS)
    for script, results in readme_block.BLOCKS.values():
        assert (BENCH / f"{script}.py").is_file()
        assert results is None or (BENCH.parent / results).is_file()


@pytest.mark.parametrize("name", sorted(readme_block.BLOCKS))
def test_readme_block_matches_its_results_file(name):
    assert readme_block.readme_blocks()[name] == readme_block.render_block(name), (
        f"README block {name!r} differs from what bench/{readme_block.BLOCKS[name][0]}.py renders from "
        f"{readme_block.BLOCKS[name][1]}; run `python bench/readme_block.py --write` (or rerun the benchmark)")


def test_a_typed_figure_is_caught(tmp_path, monkeypatch):
    copies = []
    for path in readme_block.DOCS:
        text = path.read_text(encoding="utf-8")
        body = readme_block.readme_blocks(text).get("refusals")
        if body is not None:
            text = text.replace(body, body.replace("| 0 |", "| 1 |", 1))
        copies.append(tmp_path / path.name)
        copies[-1].write_text(text, encoding="utf-8")
    monkeypatch.setattr(readme_block, "DOCS", tuple(copies))
    assert set(readme_block.stale_blocks()) == {"refusals"}
