"""Run every benchmark in ``bench/``, write ``bench/results.json`` and the results table (docs/benchmarks.md).

Benchmarks are not tests: each script prints JSON figures. ``--smoke`` runs each one in a
seconds-long configuration (what CI runs); the full run (``make bench``) takes about 20 minutes.

    python bench/run_all.py [--smoke] [--only latency lsl_pull] [--no-readme]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
from readme_block import BLOCKS, render_block, write_readme_block  # noqa: E402

# name -> (full arguments, smoke arguments)
BENCHES: dict[str, tuple[list[str], list[str]]] = {
    "model_forward": (["--runs", "200"], ["--runs", "5"]),
    "latency": (["--steps", "2000", "--eager"], ["--steps", "150"]),
    "lsl_pull": (["--repeats", "200"], ["--smoke"]),
    "acquisition": (["--duration", "60"], ["--duration", "3"]),
    "acquisition_256": (["--duration", "600", "--channels", "256", "--sfreq", "2048"],
                        ["--duration", "3", "--channels", "256", "--sfreq", "2048"]),
    "acquisition_128": (["--duration", "600", "--channels", "128", "--sfreq", "2048"],
                        ["--duration", "3", "--channels", "128", "--sfreq", "2048"]),
    "acquisition_256_decode": (["--duration", "600", "--channels", "256", "--sfreq", "2048", "--decode", "sensorimotor16"],
                               ["--duration", "6", "--channels", "256", "--sfreq", "2048", "--decode", "sensorimotor16"]),
    "acquisition_1024": (["--duration", "600", "--channels", "1024", "--sfreq", "4096"],
                         ["--duration", "3", "--channels", "1024", "--sfreq", "4096"]),
    "signal_view_256": (["--seconds", "10"], ["--seconds", "1"]),
    "decoding": (["--group", "dev"], ["--subjects", "S001", "--methods", "gated", "ts_lr"]),
    "refusals": ([], ["--subjects", "S001", "--runs", "4", "--bases", "sensorimotor16"]),
    # what a long tick waited for (every thread's stack) kept beside the results: bench/out/ is not committed
    "gui": (["--stall-dumps", "bench/out/gui-stalls.txt"], ["--smoke"]),
    "soak": (["--minutes", "10"], ["--smoke"]),
    "switch_interval": ([], ["--smoke"]),
}


#: benchmarks that run another benchmark's script with other arguments
SCRIPTS = {"signal_view_256": "signal_view", "acquisition_256": "acquisition", "acquisition_128": "acquisition",
           "acquisition_256_decode": "acquisition", "acquisition_1024": "acquisition"}


def _get(data: dict, path: str, default=None):
    node = data
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    return node


def _fmt(value, unit: str = "", digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        value = round(value, digits)
    return f"{value}{unit}"


def _rows_model_forward(r: dict) -> list[tuple[str, str, str]]:
    lat = r.get("latency_ms_batch1", {})
    return [
        ("ATCNet parameters (64 ch / 16 ch)", f"{_fmt(_get(r, 'params.64ch'))} / {_fmt(_get(r, 'params.16ch'))}", "–"),
        ("forward, batch 1, 1 thread, median (64 ch / 16 ch)",
         f"{_fmt(_get(lat, '64ch.median'), ' ms')} / {_fmt(_get(lat, '16ch.median'), ' ms')}", "–"),
    ]


def _rows_latency(r: dict) -> list[tuple[str, str, str]]:
    rows = []
    for key, value in r.items():
        if isinstance(value, dict) and "p50" in value:
            rows.append((f"decision latency {key} (p50 / p99)", f"{_fmt(value['p50'], ' ms')} / {_fmt(value['p99'], ' ms')}",
                         "p50 ≤ 8 ms, p99 ≤ 15 ms"))
    for n in ("64ch", "16ch"):
        fast, eager = r.get(n), r.get(f"{n}_eager")
        if isinstance(fast, dict) and isinstance(eager, dict) and fast.get("p50"):
            rows.append((f"inference {n}: fast path vs plain eager forward (p50 ratio; outputs within 1e-5)",
                         f"{_fmt(eager['p50'] / fast['p50'], '×', 1)}", "–"))
    return rows


def _rows_lsl_pull(r: dict) -> list[tuple[str, str, str]]:
    return [("LSL pull of 1024 × 64, median: StreamLSL (to volts, into the ring buffer) vs pylsl list loop "
             "(`pull_chunk` lists → numpy)",
             f"{_fmt(_get(r, 'stream_lsl_ms.median'), ' ms')} vs {_fmt(_get(r, 'plain_pylsl_ms.median'), ' ms')} "
             f"({_fmt(r.get('speedup_median'), '×', 1)})", "–"),
            ("LSL pull of 1024 × 64, median: pylsl numpy pull (`pull_chunk` into a preallocated array; no volts, "
             "no ring buffer)", _fmt(_get(r, "pylsl_numpy_ms.median"), " ms"), "–")]


def _load(r: dict) -> str:
    """``, machine load A → B`` (1-minute load average at the start and the end of the run) when recorded."""
    load = r.get("machine_load_1min")
    return f", machine load {load[0]:g} → {load[1]:g} on {r.get('cpu_count', '?')} cores" if load else ""


def _rows_acquisition(r: dict) -> list[tuple[str, str, str]]:
    channels = r.get("channels", 64)
    dec = r.get("decoder")
    pull = r.get("pull_latency_ms") or {}
    if dec:
        return [(f"acquisition {channels} ch × {r.get('sfreq', 2000.0):g} Hz into ring buffer + XDF + online decoder "
                 f"({dec['base']}, {dec['model_channels']} of the channels), {_fmt(r.get('duration_s'), ' s', 0)}"
                 f"{_load(r)}: lost / CPU of the receiving process / decisions / decision latency p99",
                 f"{_fmt(r.get('samples_lost'))} / {_fmt(r.get('cpu_consumer_percent_of_one_core'), ' %')} / "
                 f"{dec['decisions']} / {_fmt(dec.get('latency_ms_p99'), ' ms')}",
                 "0 lost / < 20 % of one core / – / ≤ 5 ms")]
    if channels >= 1024:
        return [(f"acquisition {channels} ch × {r.get('sfreq', 2000.0):g} Hz into ring buffer + XDF, "
                 f"{_fmt(r.get('duration_s'), ' s', 0)}{_load(r)}: lost / CPU / pull latency p99",
                 f"{_fmt(r.get('samples_lost'))} / {_fmt(r.get('cpu_consumer_percent_of_one_core'), ' %')} / "
                 f"{_fmt(pull.get('p99'), ' ms')}", "0 lost / < 15 % of one core / ≤ 10 ms")]
    goal = "0 lost, < 15 % of one core" if channels >= 128 else "0 lost, < 10 % of one core"
    return [(f"acquisition {channels} ch × {r.get('sfreq', 2000.0):g} Hz into ring buffer + XDF, "
             f"{_fmt(r.get('duration_s'), ' s', 0)}: lost / CPU",
             f"{_fmt(r.get('samples_lost'))} / {_fmt(r.get('cpu_consumer_percent_of_one_core'), ' %')}", goal)]


def _rows_signal_view(r: dict) -> list[tuple[str, str, str]]:
    rows = []
    for span, s in r.get("spans", {}).items():
        rows.append((f"signal view, {r.get('channels')} ch × {r.get('sfreq', 0):g} Hz over LSL, {span} span "
                     f"({r.get('page_size')} channels a page, ≤ {r.get('max_bins')} bins a trace): timer fps / frame p95",
                     f"{_fmt(s.get('timer_fps'), ' fps', 1)} / {_fmt(s.get('frame_ms_p95'), ' ms', 1)}", "≥ 30 fps"))
    return rows


def _rows_decoding(r: dict) -> list[tuple[str, str, str]]:
    rows = []
    summary = r.get("summary") or {}
    group = "development group" if r.get("group") == "dev" else "final test group"
    goals = {"gated": "≥ unadapted; ≥ TS+LR + 10 points; ≥ 0.75 (0.80 aim)"}
    for method, value in summary.items():
        if isinstance(value, dict) and "mean_accuracy" in value:
            lo, hi = value.get("ci95", [None, None])
            rows.append((f"decoding, {group} ({value.get('n_people')} people, 15 calibration trials), {method}: "
                         "mean accuracy [95 % CI]", f"{_fmt(value['mean_accuracy'])} [{_fmt(lo)}–{_fmt(hi)}]",
                         goals.get(method, "–")))
    gated = summary.get("gated") or {}
    if "median_calibration_seconds" in gated:
        rows.append(("last calibration trial → model installed (prepare + fine-tune + gate), median / max",
                     f"{_fmt(gated['median_calibration_seconds'], ' s')} / {_fmt(gated['max_calibration_seconds'], ' s')}",
                     "≤ 5 s"))
    return rows


def _rows_refusals(r: dict) -> list[tuple[str, str, str]]:
    return [(f"calibrations refused, base {base} (every person × runs 4/8/12)",
             f"{v.get('refused')} of {v.get('calibrations')}", "0")
            for base, v in (r.get("bases") or {}).items()]


def _rows_gui(r: dict) -> list[tuple[str, str, str]]:
    paths = r.get("clinician_paths") or ({"sensorimotor16": r["clinician_path"]} if r.get("clinician_path") else {})
    return [
        ("GUI signal view, 64 ch", f"{_fmt(r.get('signal_view_max_fps'), ' fps', 1)}", "≥ 30 fps"),
        ("GUI longest stall while fine-tuning (64-ch base)", f"{_fmt(r.get('longest_stall_ms_while_finetuning'), ' ms', 1)}",
         "≤ 16 ms"),
        *[row for p in paths.values() for row in _rows_clinician_path(p)],
        *_rows_machine_jitter(r),
    ]


def _rows_machine_jitter(r: dict) -> list[tuple[str, str, str]]:
    runs = [r[k] for k in ("machine_fixed_work_ms_before", "machine_fixed_work_ms_after") if r.get(k)]
    if not runs:
        return []
    return [("the machine itself: one fixed piece of numpy work timed every 20 ms, nothing of the app running "
             f"({sum(j['runs'] for j in runs)} runs before and after the GUI measurements): median / longest "
             "(a frame of the same length can read as long)",
             f"{_fmt(max(j['median_ms'] for j in runs), ' ms', 1)} / {_fmt(max(j['max_ms'] for j in runs), ' ms', 1)}",
             "–")]


def _rows_clinician_path(p: dict | None) -> list[tuple[str, str, str]]:
    if not p:
        return []
    phases = p.get("ui_longest_tick_ms_by_phase") or {}
    split = ", ".join(f"{k} {_fmt(v, ' ms', 1)}" for k, v in phases.items())
    own = p.get("ui_longest_tick_cpu_ms")
    over = p.get("ui_ticks_over_16ms_by_phase")
    n_ticks = sum((p.get("ui_ticks_by_phase") or {}).values())
    report = p.get("calibration_end_to_report_written_s")
    return [(f"GUI clinician's path, base `{p['base']}` ({p.get('n_chans', '?')} ch, {p['calibration_trials']} trials, "
             "gate): end of calibration → first adapted decision"
             + (f" (report written after {_fmt(report, ' s', 1)}, drawn in its own process)" if report else "")
             + " / UI thread's longest tick"
             + (f" (per path: {split}; the thread's own CPU in its longest tick {_fmt(own, ' ms', 1)})" if phases else "")
             + (f"; ticks over 16 ms: {sum(over.values())} of {n_ticks}" if over is not None else ""),
             f"{_fmt(p.get('calibration_end_to_first_adapted_decision_s'), ' s', 1)} / "
             f"{_fmt(p.get('ui_longest_tick_ms'), ' ms', 1)}", "≤ 3 s / ≤ 16 ms")]


def _rows_switch_interval(r: dict) -> list[tuple[str, str, str]]:
    """One row per duty of the busy thread: each switch interval's frame median / longest (frames over 16 ms)."""
    rows = r.get("rows") or []
    out = []
    for duty in dict.fromkeys(x["busy_duty"] for x in rows):
        cells = [f"{x['switch_interval_ms']:g} ms: {x['frame_median_ms']:.1f} / {x['frame_longest_ms']:.1f} ms "
                 f"({x['frames_over_16ms']} of {x['frames']})" for x in rows if x["busy_duty"] == duty]
        out.append((f"GUI signal view 64 ch while another thread runs Python {duty:.0%} of the time: frame median / "
                    f"longest (frames over 16 ms) per switch interval (the app's: {_fmt(r.get('app_switch_interval_ms'))} ms)",
                    "; ".join(cells), "≤ 16 ms"))
    return out


def _rows_soak(r: dict) -> list[tuple[str, str, str]]:
    return [(f"soak {_fmt(r.get('minutes'), ' min', 1)}: lost / RSS growth",
             f"{_fmt(r.get('samples_lost'))} / {_fmt(r.get('rss_growth_percent'), ' %')}", "0 lost, < 5 %")]


SUMMARIES: dict[str, Callable[[dict], list[tuple[str, str, str]]]] = {
    "model_forward": _rows_model_forward,
    "latency": _rows_latency,
    "lsl_pull": _rows_lsl_pull,
    "acquisition": _rows_acquisition,
    "acquisition_256": _rows_acquisition,
    "acquisition_128": _rows_acquisition,
    "acquisition_256_decode": _rows_acquisition,
    "acquisition_1024": _rows_acquisition,
    "signal_view_256": _rows_signal_view,
    "decoding": _rows_decoding,
    "refusals": _rows_refusals,
    "gui": _rows_gui,
    "soak": _rows_soak,
    "switch_interval": _rows_switch_interval,
}


def _parse_json(stdout: str) -> dict:
    """The last JSON object a script printed (some print progress lines before it)."""
    text = stdout.strip()
    start = text.rfind("\n{")
    candidates = [text] if text.startswith("{") else []
    if start >= 0:
        candidates.append(text[start + 1 :])
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            continue
    raise ValueError("no JSON object at the end of the output")


def script_of(name: str) -> Path:
    """The script a benchmark runs (``acquisition_256`` is ``acquisition.py`` with other arguments)."""
    return BENCH_DIR / f"{SCRIPTS.get(name, name)}.py"


def run_one(name: str, smoke: bool, timeout: float) -> dict:
    full, smoke_args = BENCHES[name]
    cmd = [sys.executable, "-P", str(script_of(name)), *(smoke_args if smoke else full)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)
    wall = time.monotonic() - start
    if proc.returncode != 0:
        return {"ok": False, "wall_s": round(wall, 1), "returncode": proc.returncode, "stderr_tail": proc.stderr[-2000:]}
    try:
        result = _parse_json(proc.stdout)
    except ValueError as exc:
        return {"ok": False, "wall_s": round(wall, 1), "error": str(exc), "stdout_tail": proc.stdout[-2000:]}
    return {"ok": True, "wall_s": round(wall, 1), "result": result}


def markdown_table(results: dict[str, dict]) -> str:
    lines = ["| figure | measured | goal |", "|---|---|---|"]
    for name, entry in results.items():
        if not entry.get("ok"):
            lines.append(f"| {name} | failed (see bench/results.json) | – |")
            continue
        for figure, measured, goal in SUMMARIES[name](entry["result"]):
            lines.append(f"| {figure} | {measured} | {goal} |")
    return "\n".join(lines)


def readme_body(saved: dict) -> str:
    """The block ``bench-table`` (docs/benchmarks.md) for a saved ``bench/results.json`` (``meta`` + ``benchmarks``)."""
    meta = saved["meta"]
    header = (f"Measured {meta['when']} on {meta['cpus']} CPUs ({meta['machine']}), `make bench`; "
              "raw figures in `bench/results.json`.")
    return f"{header}\n\n{markdown_table(saved['benchmarks'])}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="seconds-long version of each benchmark (CI)")
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHES), help="run only these")
    parser.add_argument("--no-readme", action="store_true",
                        help="do not rewrite the results table and the blocks drawn from results.json")
    parser.add_argument("--out", type=Path, default=None, help="results file (default bench/results.json)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="per-benchmark limit in seconds")
    args = parser.parse_args(argv)
    names = args.only or list(BENCHES)
    results: dict[str, dict] = {}
    for name in names:
        print(f"bench: {name} ({'smoke' if args.smoke else 'full'}) ...", file=sys.stderr, flush=True)
        results[name] = run_one(name, args.smoke, args.timeout)
        print(f"bench: {name} {'ok' if results[name]['ok'] else 'FAILED'} in {results[name]['wall_s']} s",
              file=sys.stderr, flush=True)
    out = args.out or BENCH_DIR / ("results-smoke.json" if args.smoke else "results.json")
    if args.only and out.is_file():  # a partial run updates the figures of the benchmarks it ran
        previous = json.loads(out.read_text(encoding="utf-8")).get("benchmarks", {})
        results = {name: results.get(name, previous.get(name)) for name in BENCHES if name in results or name in previous}
    meta = {"when": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "python": platform.python_version(),
            "machine": platform.machine(), "cpus": os.cpu_count(), "smoke": args.smoke}
    out.write_text(json.dumps({"meta": meta, "benchmarks": results}, indent=2) + "\n", encoding="utf-8")
    print(markdown_table(results))
    if not args.smoke and not args.no_readme:
        write_readme_block("bench-table", readme_body({"meta": meta, "benchmarks": results}))
        if out == BENCH_DIR / "results.json":  # the other blocks drawn from it (model sizes, latency)
            for name, (_, results_file) in BLOCKS.items():
                if name != "bench-table" and results_file == "bench/results.json":
                    write_readme_block(name, render_block(name))
    return 0 if all(entry["ok"] for entry in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
