"""One way for a benchmark to write its figures into README.md: between ``<!-- NAME:begin -->`` and
``<!-- NAME:end -->`` markers, replacing what was there (figures are written by scripts, never typed)."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def write_readme_block(name: str, body: str) -> None:
    """Replace the block ``name`` of README.md with ``body``; exits naming the markers when absent."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = README.read_text(encoding="utf-8")
    if begin not in text or end not in text:
        raise SystemExit(f"README.md lacks the {begin} ... {end} markers")
    before, rest = text.split(begin, 1)
    _, after = rest.split(end, 1)
    README.write_text(f"{before}{begin}\n{body}\n{end}{after}", encoding="utf-8")
