"""One way for a benchmark to write its figures into README.md: between ``<!-- NAME:begin -->`` and
``<!-- NAME:end -->`` markers, replacing what was there (figures are written by scripts, never typed)."""

from __future__ import annotations

import json
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


def add_output_arguments(parser, default_out: str) -> None:
    """``--out``, ``--readme`` and ``--render`` of a benchmark that writes a README block."""
    parser.add_argument("--out", default=None, help=f"JSON file (default {default_out} for a whole run)")
    parser.add_argument("--readme", action="store_true", help="write the table into README.md")
    parser.add_argument("--render", default=None, metavar="JSON", help="only render a saved result (no measuring)")


def render_saved(args, markdown, update_readme) -> bool:
    """With ``--render FILE``: print (and with ``--readme`` write) the table of a saved result; True
    when that was all to do."""
    if not args.render:
        return False
    result = json.loads(Path(args.render).read_text(encoding="utf-8"))
    if args.readme:
        update_readme(result)
    print(markdown(result))
    return True


def finish(result: dict, out: str | Path | None, args, update_readme) -> int:
    """Save ``result`` to ``out`` (when given), write its README block with ``--readme``, print it."""
    text = json.dumps(result, indent=2)
    if out:
        Path(out).write_text(text + "\n", encoding="utf-8")
    if args.readme:
        update_readme(result)
    print(text)
    return 0
