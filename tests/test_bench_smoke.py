"""CI runs a seconds-long smoke version of every benchmark: each must run and print JSON figures."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from run_all import BENCHES, run_one, script_of  # noqa: E402

sys.path.pop(0)


#: the benchmarks that read the EEGMMIDB recordings; the others run on the simulated headset and
#: shipped models, so they never skip
NEEDS_EEGMMIDB = {"decoding", "refusals"}


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", sorted(BENCHES))
def test_benchmark_smoke(name, request):
    if name in NEEDS_EEGMMIDB:
        request.getfixturevalue("eegmmidb_dir")  # skips with the reason when the recordings are absent
    if not script_of(name).is_file():
        pytest.fail(f"{script_of(name).name} (benchmark {name}) is listed in bench/run_all.py but missing")
    entry = run_one(name, smoke=True, timeout=540)
    assert entry["ok"], json.dumps(entry, indent=2)[:3000]
    assert isinstance(entry["result"], dict) and entry["result"]
