"""Benchmark row: the Dask batch path against the in-memory path (township coverage).

    .venv/bin/python bench/dask_row.py [--sites 1000000] [--side-sites 100000]

Generates a registry of N synthetic sites over Xining (random points, 4 % placed at a named
county/township, 15 % samples), then times ``summarize`` at township level

* in memory: read CSV → the reader's checks (``validate_table``) →
  :func:`geo.places.normalize_places` → :func:`geo.assign.assign_sites` →
  :func:`geo.coverage.summarize`;
* on Dask: :func:`geo.dask_path.summarize_large` on the same CSV, with the threaded scheduler
  and with a local cluster of 2 worker processes (start-up included);

each in a fresh process (its own peak memory), checks that all give the same counts, and writes
the result to ``bench/dask_result.json``; a side run at ``--side-sites`` repeats the three.
:func:`table_row` gives the row for the results table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULT = Path(__file__).with_name("dask_result.json")
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def make_registry(path: Path, n: int, *, seed: int = 0) -> Path:
    """A canonical registry CSV of ``n`` synthetic sites over and around Xining."""
    import numpy as np
    import pandas as pd

    from geo.backends.files import load_units_from_files
    from layers.schema import COLUMNS, LAYERS

    units = load_units_from_files()
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = units.counties.total_bounds
    frame = pd.DataFrame({c: "" for c in COLUMNS}, index=range(n))
    frame["name"] = [f"site{i}" for i in range(n)]
    frame["layer"] = rng.choice(list(LAYERS), n)
    frame["lon"] = rng.uniform(x0 - 0.02, x1 + 0.02, n).round(6)
    frame["lat"] = rng.uniform(y0 - 0.02, y1 + 0.02, n).round(6)
    blank = frame.index[-(n // 25) :]
    frame.loc[blank, ["lon", "lat"]] = np.nan
    frame.loc[blank, "county"] = rng.choice(units.counties["name"], len(blank))
    frame.loc[blank[::2], "township"] = rng.choice(units.townships["name"], len(blank[::2]))
    frame["is_sample"] = np.where(rng.random(n) < 0.15, "true", "false")
    frame["status"] = "built"
    frame.to_csv(path, index=False)
    return path


def _in_memory(path: Path) -> tuple[float, object]:
    """The product's steps on the whole file at once: the reader's checks
    (``validate_table``, in slices of its 200,000-row limit), place names, assignment, counts."""
    import pandas as pd

    from geo.assign import assign_sites
    from geo.backends.files import load_units_from_files
    from geo.coverage import summarize
    from geo.places import normalize_places
    from layers.readers import RawTable
    from layers.registry import MAX_ROWS, combine, validate_table

    units = load_units_from_files()
    start = time.perf_counter()
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    raw.index = range(2, len(raw) + 2)  # file row numbers: the header is row 1
    loads = [
        validate_table(RawTable(raw.iloc[i : i + MAX_ROWS], path.name, "csv"))
        for i in range(0, len(raw), MAX_ROWS)
    ]
    sites, _ = normalize_places(combine(loads).sites, units)
    assigned = assign_sites(sites, units)
    table = summarize(units, assigned, level="township")
    return time.perf_counter() - start, table


def _on_dask(path: Path, scheduler: str) -> tuple[float, object]:
    from geo.backends.files import load_units_from_files
    from geo.dask_path import summarize_large

    units = load_units_from_files()
    start = time.perf_counter()
    table = summarize_large(
        path, level="township", include_samples=True, units=units, scheduler=scheduler
    )
    return time.perf_counter() - start, table


def _count_columns() -> list[str]:
    from layers.schema import LAYERS

    return [f"n_{k}{kind}" for k in LAYERS for kind in ("", "_sample", "_approx")]


def _run_alone(path: Path, mode: str) -> dict:
    """One path in a fresh process, so its peak memory is its own."""
    proc = subprocess.run(
        [sys.executable, __file__, "--one", mode, "--csv", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _one(path: Path, mode: str) -> dict:
    if mode == "in_memory":
        secs, table = _in_memory(path)
    else:
        secs, table = _on_dask(path, mode)
    counts = table[_count_columns()].to_numpy().tolist()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": round(secs, 2), "peak_rss_mb": round(rss), "counts": counts}


def measure(n_sites: int = 1_000_000, *, side_sites: int = 100_000) -> dict:
    """Run the benchmark and return its result (also what :func:`table_row` reads)."""
    import dask

    from geo.dask_path import BLOCKSIZE, LOCAL_WORKERS

    runs: dict[str, dict] = {}
    side: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        big = make_registry(Path(tmp) / "sites.csv", n_sites)
        csv_mb = round(big.stat().st_size / 1e6, 1)
        for mode in ("in_memory", "threads", "processes"):
            runs[mode] = _run_alone(big, mode)
        if side_sites:
            small = make_registry(Path(tmp) / "side.csv", side_sites, seed=1)
            for mode in ("in_memory", "threads", "processes"):
                side[f"{mode}_s"] = _run_alone(small, mode)["seconds"]
    mem = runs["in_memory"]
    best = min(("threads", "processes"), key=lambda m: runs[m]["seconds"])
    return {
        "benchmark": "dask_summarize_township",
        "n_sites": n_sites,
        "csv_mb": csv_mb,
        "in_memory_s": mem["seconds"],
        "in_memory_peak_rss_mb": mem["peak_rss_mb"],
        "dask_threads_s": runs["threads"]["seconds"],
        "dask_threads_peak_rss_mb": runs["threads"]["peak_rss_mb"],
        "dask_processes_s": runs["processes"]["seconds"],
        "dask_processes_client_rss_mb": runs["processes"]["peak_rss_mb"],
        "dask_s": runs[best]["seconds"],
        "dask_scheduler": (
            "threaded scheduler" if best == "threads" else f"{LOCAL_WORKERS} worker processes"
        ),
        "dask_blocksize": BLOCKSIZE,
        "speedup": round(mem["seconds"] / runs[best]["seconds"], 2),
        "same_counts": all(runs[m]["counts"] == mem["counts"] for m in ("threads", "processes")),
        "side_run": {"n_sites": side_sites, **side},
        "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}",
        "dask": dask.__version__,
        "measured": time.strftime("%Y-%m-%d"),
    }


def table_row(result: dict | None = None) -> dict[str, str]:
    """The row for bench's results table (from ``bench/dask_result.json`` by default)."""
    if result is None:
        result = json.loads(RESULT.read_text(encoding="utf-8"))
    n = result["n_sites"]
    return {
        "benchmark": "summarize township coverage, Dask batch path vs in memory",
        "size": f"{n:,} sites",
        "result": (
            f"Dask {result['dask_s']:.1f} s vs in memory {result['in_memory_s']:.1f} s "
            f"(×{result['speedup']:.2f}); counts equal: {result['same_counts']}"
        ),
        "notes": (
            f"{result['dask_scheduler']}, blocks of {result['dask_blocksize']}, start-up "
            f"included; threaded scheduler {result['dask_threads_s']:.1f} s; peak RSS in memory "
            f"{result['in_memory_peak_rss_mb']} MB, Dask threads "
            f"{result['dask_threads_peak_rss_mb']} MB; {result['machine']}"
        ),
    }


def markdown_row(result: dict | None = None) -> str:
    row = table_row(result)
    return "| " + " | ".join(row.values()) + " |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sites", type=int, default=1_000_000)
    parser.add_argument("--side-sites", type=int, default=100_000)
    parser.add_argument("-o", "--output", type=Path, default=RESULT)
    modes = ("in_memory", "threads", "processes")
    parser.add_argument("--one", choices=modes, help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(_one(args.csv, args.one)))
        return 0
    result = measure(args.sites, side_sites=args.side_sites)
    args.output.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(markdown_row(result))
    return 0 if result["same_counts"] else 1


if __name__ == "__main__":
    sys.exit(main())
