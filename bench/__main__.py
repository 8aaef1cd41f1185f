"""``python -m bench``: run every case, each in its own process, and write the results.

Writes ``bench/results.json`` (everything measured) and ``bench/RESULTS.md`` (the tables and
the budgets), and refreshes the table in the README's "Speed" section. Before measuring it
waits (polling every 30 s, up to 15 minutes) until the 1-minute load average is below 0.7,
since other work on this 2-core machine skews every number; the load is recorded either way.

Options: ``--quick`` (small sizes, no DuckDB at 10⁶: a smoke run, not for the table),
``--only NAME ...`` (some cases) — both write to /tmp/bench-partial, never over bench/;
``--no-wait`` (do not wait for a quiet machine); ``--report-only`` (rewrite the reports from
bench/results.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.report import write_reports

ROOT = Path(__file__).resolve().parents[1]
QUIET_LOAD = 0.7
WAIT_POLL_S = 30
WAIT_MAX_S = 15 * 60

# (case, keyword arguments). Each runs as ``python -m bench.cases CASE --kwargs JSON``.
PLAN: list[tuple[str, dict]] = [
    ("assign", {"n": 10_000, "reps": 5, "duck": True}),
    ("assign", {"n": 100_000, "reps": 5, "duck": True}),
    ("assign", {"n": 1_000_000, "reps": 5, "duck": True}),
    ("assign_sites", {"n": 10_000, "reps": 3}),
    ("assign_sites", {"n": 100_000, "reps": 3}),
    ("scale", {"polygons": 2_800, "n": 1_000_000, "reps": 3, "sjoin": False}),
    ("scale", {"polygons": 40_000, "n": 100_000, "reps": 3, "sjoin": False}),
    ("scale", {"polygons": 40_000, "n": 1_000_000, "reps": 3, "sjoin": True}),
    ("scale", {"polygons": 40_000, "n": 4_000_000, "reps": 1, "sjoin": False}),
    ("scale_xining", {"n": 10_000_000, "reps": 1}),
    ("payload", {"n_sites": 100_000, "browser": True}),
    ("rerun", {"reps": 8}),
    ("cold_start", {"reps": 3}),
]

QUICK: list[tuple[str, dict]] = [
    ("assign", {"n": 10_000, "reps": 3, "duck": True}),
    ("assign", {"n": 100_000, "reps": 3, "duck": False}),
    ("assign", {"n": 1_000_000, "reps": 1, "duck": False}),
    ("assign_sites", {"n": 10_000, "reps": 1}),
    ("scale", {"polygons": 40_000, "n": 100_000, "reps": 1, "sjoin": False}),
    ("payload", {"n_sites": 20_000, "browser": True}),
    ("rerun", {"reps": 4}),
    ("cold_start", {"reps": 1}),
]


def _load() -> list[float]:
    return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]


def _wait_for_quiet(enabled: bool) -> dict:
    start = time.monotonic()
    before = _load()
    if enabled:
        while _load()[0] >= QUIET_LOAD and time.monotonic() - start < WAIT_MAX_S:
            print(f"load {_load()} ≥ {QUIET_LOAD}: waiting {WAIT_POLL_S} s", flush=True)
            time.sleep(WAIT_POLL_S)
    now = _load()
    return {
        "load_when_started": before,
        "load_at_start": now,
        "waited_s": round(time.monotonic() - start, 1),
        "quiet": now[0] < QUIET_LOAD,
    }


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=20)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _machine() -> dict:
    import geopandas
    import numpy
    import shapely

    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    try:
        import duckdb

        duck = duckdb.__version__
    except ImportError:
        duck = "not installed"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(int(mem) / 2**20, 1),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "shapely": shapely.__version__,
        "geos": shapely.geos_version_string,
        "geopandas": geopandas.__version__,
        "duckdb": duck,
    }


def _run_case(name: str, kwargs: dict) -> dict:
    cmd = [sys.executable, "-m", "bench.cases", name, "--kwargs", json.dumps(kwargs)]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    took = time.monotonic() - t0
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("BENCH-RESULT "):
            result = json.loads(line[len("BENCH-RESULT ") :])
            result["case_wall_s"] = took
            result["load_after"] = _load()
            return result
    return {
        "case": name,
        "kwargs": kwargs,
        "error": (proc.stderr or proc.stdout)[-3000:],
        "case_wall_s": took,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for a quiet machine")
    parser.add_argument("--only", nargs="+", metavar="CASE", help="run only these cases")
    parser.add_argument("--out", type=Path, help="where to write (default: bench/)")
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite the reports from results.json"
    )
    args = parser.parse_args(argv)
    if args.report_only:
        data = json.loads((ROOT / "bench" / "results.json").read_text(encoding="utf-8"))
        print(write_reports(data, ROOT / "bench", readme=ROOT / "README.md"))
        return 0

    plan = QUICK if args.quick else PLAN
    if args.only:
        plan = [(n, k) for n, k in plan if n in args.only]
    load = _wait_for_quiet(not args.no_wait)
    started = time.monotonic()
    meta = {
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "uncommitted_changes": bool(_git("status", "--porcelain")),
        "command": "python -m bench" + (" --quick" if args.quick else ""),
        "quick": args.quick,
        **load,
        "machine": _machine(),
    }
    results = []
    for name, kwargs in plan:
        print(f"[bench] {name} {kwargs} ...", flush=True)
        res = _run_case(name, kwargs)
        res.setdefault("kwargs", kwargs)
        print(f"[bench]   {res.get('case_wall_s', 0):.1f} s" + (" ERROR" if "error" in res else ""))
        if "error" in res:
            print(res["error"], file=sys.stderr)
        results.append(res)
    meta["runtime_s"] = round(time.monotonic() - started, 1)
    meta["load_at_end"] = _load()
    data = {"meta": meta, "results": results}
    partial = args.quick or bool(args.only)
    out = args.out or (Path("/tmp/bench-partial") if partial else ROOT / "bench")
    out.mkdir(parents=True, exist_ok=True)
    full = not args.quick and not args.only and args.out is None
    md = write_reports(data, out, readme=ROOT / "README.md" if full else None)
    print(md)
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
