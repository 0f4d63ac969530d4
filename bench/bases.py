"""The shipped base models as their JSON files describe them: channels, classes, who trained them,
and the leave-people-out accuracy measured while pretraining. Prints JSON; ``--readme`` writes the
table into README.md between ``<!-- bases:begin/end -->``.

    python bench/bases.py [--readme]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from readme_block import write_readme_block  # noqa: E402

from bci_app.models.pretrained import PRETRAINED_DIR, list_base_models  # noqa: E402


def describe() -> dict:
    out = {}
    for name in list_base_models():
        meta = json.loads((PRETRAINED_DIR / f"{name}.json").read_text(encoding="utf-8"))["metadata"]
        validation = meta.get("validation") or {}
        out[name] = {"channels": meta["ch_names"], "classes": meta["classes"],
                     "training_people": meta["training_subjects"], "excluded_people": meta["excluded_subjects"],
                     "held_out_mean_accuracy": validation.get("mean_accuracy"),
                     "held_out_scheme": validation.get("scheme"),
                     "folds_shipped": len(list_base_models(include_folds=True)) and sum(
                         1 for f in list_base_models(include_folds=True) if f.startswith(f"{name}.fold")),
                     "command": " ".join(meta.get("command", []))}
    return out


def markdown(bases: dict) -> str:
    lines = ["| name | channels | classes | trained on | held-out accuracy (leave-people-out) | fold models |",
             "|---|---|---|---|---|---|"]
    for name, b in bases.items():
        chans = " ".join(b["channels"]) if len(b["channels"]) <= 16 else f"the {len(b['channels'])}-channel EEGMMIDB cap"
        acc = "–" if b["held_out_mean_accuracy"] is None else f"{b['held_out_mean_accuracy']:.3f} ({b['held_out_scheme']})"
        lines.append(f"| `{name}` | {chans} | {', '.join(b['classes'])} | {len(b['training_people'])} development "
                     f"people | {acc} | {b['folds_shipped']} |")
    return "\n".join(lines)


def readme_body(bases: dict) -> str:
    """The README block ``bases`` for :func:`describe`'s ``bases``."""
    note = "Written by `python bench/bases.py --readme` from the shipped JSON files."
    return f"{note}\n\n{markdown(bases)}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--readme", action="store_true")
    args = ap.parse_args(argv)
    bases = describe()
    if args.readme:
        write_readme_block("bases", readme_body(bases))
    print(json.dumps(bases, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
