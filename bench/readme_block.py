"""One way for a benchmark to write its figures into the docs (README.md, docs/benchmarks.md): between
``<!-- NAME:begin -->`` and ``<!-- NAME:end -->`` markers, replacing what was there (figures are
written by scripts, never typed).

Every block comes from a committed results file through its script's ``readme_body(result)``
(:data:`BLOCKS`). ``python bench/readme_block.py`` re-renders each block from those files and exits 1
naming the blocks that differ from the docs (a fast test runs the same check); ``--write`` rewrites
them instead (after editing a script's wording).
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
README = ROOT / "README.md"
BENCHMARKS = ROOT / "docs" / "benchmarks.md"
#: the files holding marked blocks: the README (base models, model sizes) and the generated benchmark page
DOCS: tuple[Path, ...] = (README, BENCHMARKS)

#: block name -> (script in bench/, its results file relative to the repository root; None: the
#: script describes the shipped model files)
BLOCKS: dict[str, tuple[str, str | None]] = {
    "refusals": ("refusals", "bench/results-refusals.json"),
    "bases": ("bases", None),
    "decoding-final": ("decoding", "bench/results-decoding-final.json"),
    "decoding-dev": ("decoding", "bench/results-decoding-dev.json"),
    "decoding-final-4class": ("decoding", "bench/results-decoding-final-4class.json"),
    "decoding-dev-4class": ("decoding", "bench/results-decoding-dev-4class.json"),
    "adaptation-sweep": ("adaptation_sweep", "bench/results-adaptation-sweep.json"),
    "learning-curve-final": ("learning_curve", "bench/results-learning-curve-final.json"),
    "learning-curve-dev": ("learning_curve", "bench/results-learning-curve-dev.json"),
    "learning-curve-final-4class": ("learning_curve", "bench/results-learning-curve-final-4class.json"),
    "learning-curve-dev-4class": ("learning_curve", "bench/results-learning-curve-dev-4class.json"),
    "layouts": ("layouts", "bench/results-layouts.json"),
    "layouts-final": ("layouts", "bench/results-layouts-final.json"),
    "moabb": ("moabb_compare", "bench/results-moabb.json"),
    "bench-table": ("run_all", "bench/results.json"),
    "model-sizes": ("model_forward", "bench/results.json"),
    "latency": ("latency", "bench/results.json"),
}

_BLOCK = re.compile(r"<!-- (?P<name>[\w-]+):begin -->\n(?P<body>.*?)\n<!-- (?P=name):end -->", re.S)


def write_readme_block(name: str, body: str) -> None:
    """Replace the block ``name`` with ``body`` in the file of :data:`DOCS` that holds its markers;
    exits naming the markers when none does."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        if begin in text and end in text:
            before, rest = text.split(begin, 1)
            _, after = rest.split(end, 1)
            path.write_text(f"{before}{begin}\n{body}\n{end}{after}", encoding="utf-8")
            return
    raise SystemExit(f"no file of {[p.name for p in DOCS]} has the {begin} ... {end} markers")


def add_output_arguments(parser, default_out: str) -> None:
    """``--out``, ``--readme`` and ``--render`` of a benchmark that writes a README block."""
    parser.add_argument("--out", default=None, help=f"JSON file (default {default_out} for a whole run)")
    parser.add_argument("--readme", action="store_true", help="write the table into its block (README.md or docs/benchmarks.md)")
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


def readme_blocks(text: str | None = None) -> dict[str, str]:
    """Every marked block of the :data:`DOCS` files (or of ``text``): name -> body."""
    texts = [p.read_text(encoding="utf-8") for p in DOCS] if text is None else [text]
    return {m["name"]: m["body"] for t in texts for m in _BLOCK.finditer(t)}


def render_block(name: str) -> str:
    """Block ``name`` rendered by its script from its committed results file."""
    script, results = BLOCKS[name]
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    module = importlib.import_module(script)
    result = module.describe() if results is None else json.loads((ROOT / results).read_text(encoding="utf-8"))
    return module.readme_body(result)


def stale_blocks() -> dict[str, str]:
    """Blocks whose README text differs from what their script renders (name -> why); blocks in
    README.md with no script, and scripts' blocks missing from README.md, count too."""
    found = readme_blocks()
    stale = {name: "marked but written by no script (bench/readme_block.py BLOCKS)"
             for name in found if name not in BLOCKS}
    for name in BLOCKS:
        if name not in found:
            stale[name] = f"missing from {' and '.join(p.name for p in DOCS)}"
        elif found[name] != render_block(name):
            stale[name] = f"differs from {BLOCKS[name][1] or 'the shipped model files'} rendered by bench/{BLOCKS[name][0]}.py"
    return stale


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="check (default) or rewrite the README blocks from the results files")
    ap.add_argument("--write", action="store_true", help="rewrite every block from its results file")
    args = ap.parse_args(argv)
    if args.write:
        for name in BLOCKS:
            write_readme_block(name, render_block(name))
        return 0
    stale = stale_blocks()
    for name, why in stale.items():
        print(f"block {name!r}: {why}", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
