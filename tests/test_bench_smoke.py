"""CI runs a seconds-long smoke version of every benchmark: each must run and print JSON figures."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from run_all import BENCHES, run_one  # noqa: E402

sys.path.pop(0)


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", sorted(BENCHES))
def test_benchmark_smoke(name, eegmmidb_dir):
    if not (Path(__file__).resolve().parent.parent / "bench" / f"{name}.py").is_file():
        pytest.fail(f"bench/{name}.py is listed in bench/run_all.py but missing")
    entry = run_one(name, smoke=True, timeout=540)
    assert entry["ok"], json.dumps(entry, indent=2)[:3000]
    assert isinstance(entry["result"], dict) and entry["result"]
