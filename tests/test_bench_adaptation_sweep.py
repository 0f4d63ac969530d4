"""``bench/adaptation_sweep.py --merge`` combines saved runs, its own merged result among them."""

import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))
from adaptation_sweep import RECIPES, merge_runs  # noqa: E402

sys.path.pop(0)


def test_a_merged_result_merges_again_with_its_recipes_of_other_bases(tmp_path):
    """The saved result holds ``recipe @ base`` keys (recipes run on another base); merging it with a
    new run keeps them and adds the run's recipe."""
    saved = json.loads((BENCH / "results-adaptation-sweep.json").read_text(encoding="utf-8"))
    assert any(" @ " in key for key in saved["summary"])
    shipped = "b64_l2w0.3_avg_r1"
    without_shipped = {**saved, "summary": {k: v for k, v in saved["summary"].items() if k != shipped},
                       "rows": {k: v for k, v in saved["rows"].items() if k != shipped}}
    new_run = {**saved, "summary": {shipped: saved["summary"][shipped]}, "rows": {shipped: saved["rows"][shipped]}}
    (tmp_path / "saved.json").write_text(json.dumps(without_shipped), encoding="utf-8")
    (tmp_path / "new.json").write_text(json.dumps(new_run), encoding="utf-8")

    merged = merge_runs([str(tmp_path / "saved.json"), str(tmp_path / "new.json")], list(RECIPES))

    assert set(merged["summary"]) == set(saved["summary"])
    assert merged["rows"] == saved["rows"]
