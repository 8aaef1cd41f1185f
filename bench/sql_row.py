"""Benchmark rows: assignment and coverage computed in PostGIS against the embedded path.

    .venv/bin/python bench/sql_row.py [--url URL] [--sizes 10000 100000]

Needs a PostgreSQL server with PostGIS (``scripts/postgres.sh start``; the URL defaults to
``XINING_TEST_DATABASE_URL`` or that script's address). Loads the bundled boundaries into a
throwaway schema, then for each size times, on the same synthetic village-station registry
(``bench.synth.xining_registry``: 80 % with coordinates, 0.5 % on borders, 20 % placed at a seat):

* ``geo.assign.assign_sites`` (embedded) and ``geo.backends.sql.assign_sites_sql`` (the
  point-in-polygon joins in PostGIS against the stored, GIST-indexed units; points copied in);
* ``geo.coverage.summarize`` and ``geo.backends.sql.summarize_sql`` (GROUP BY counts and KNN
  nearest-site distances in UTM 47N) at township level;

median of 3 runs each, and checks that codes, flags, counts and distances are equal. Writes
``bench/sql_result.json``; :func:`table_rows` gives the rows of the results table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULT = Path(__file__).with_name("sql_result.json")
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _default_url() -> str:
    url = os.environ.get("XINING_TEST_DATABASE_URL")
    if url:
        return url
    out = subprocess.run(
        [str(ROOT / "scripts" / "postgres.sh"), "url"], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def _median(fn, reps: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(reps):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def measure(url: str, sizes: list[int], *, reps: int = 3) -> dict:
    import numpy as np

    from bench.synth import xining_registry
    from geo.assign import assign_sites
    from geo.backends.files import BundledFiles
    from geo.backends.postgis import PostGISBackend
    from geo.backends.sql import assign_sites_sql, summarize_sql
    from geo.coverage import summarize

    files = BundledFiles()
    units = files.load_units()
    db = PostGISBackend(url, schema=f"xining_bench_{uuid.uuid4().hex[:8]}")
    db.init()
    rows = []
    try:
        db.load_from(files, parts=("boundaries",))
        with db.connect(read_only=True) as conn:
            full = conn.execute("SELECT postgis_full_version()").fetchone()[0]
            server = re.search(r'POSTGIS="([^" ]+)', full).group(1)
            pg = conn.execute("SHOW server_version").fetchone()[0]
        for n in sizes:
            sites = xining_registry(units, n, seed=7)

            def in_db(sites=sites):
                with db.connect() as conn:
                    return assign_sites_sql(conn, sites, units)

            t_mem, a_mem = _median(lambda sites=sites: assign_sites(sites, units), reps)
            t_sql, a_sql = _median(in_db, reps)
            keys = ["county_code", "township_code", "assign_method", "flags"]
            same_assign = all(a_mem[k].tolist() == a_sql[k].tolist() for k in keys)

            def cov_db(a=a_mem):
                with db.connect() as conn:
                    return summarize_sql(conn, units, a, level="township")

            t_cov_mem, c_mem = _median(lambda a=a_mem: summarize(units, a, level="township"), reps)
            t_cov_sql, c_sql = _median(cov_db, reps)
            # counts exactly (n_villages is empty where a unit has no village register: NaN on
            # both sides), distances to 10 m
            counts = [c for c in c_mem.columns if c.startswith("n_")]
            dist = [c for c in c_mem.columns if c.startswith("nearest_")]
            same_cov = all(
                np.array_equal(c_mem[c].to_numpy(float), c_sql[c].to_numpy(float), equal_nan=True)
                for c in counts
            ) and all(np.allclose(c_mem[c], c_sql[c], atol=0.01, equal_nan=True) for c in dist)
            rows.append(
                {
                    "n_sites": n,
                    "assign_embedded_s": round(t_mem, 3),
                    "assign_postgis_s": round(t_sql, 3),
                    "summarize_embedded_s": round(t_cov_mem, 3),
                    "summarize_postgis_s": round(t_cov_sql, 3),
                    "same_assignment": same_assign,
                    "same_coverage": same_cov,
                    "on_border": int(a_mem["flags"].str.contains("on_border").sum()),
                }
            )
    finally:
        db.drop()
    return {
        "benchmark": "postgis_assign_summarize",
        "rows": rows,
        "reps": reps,
        "postgresql": pg,
        "postgis": server,
        "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}, server on "
        "the same machine (loopback)",
        "measured": time.strftime("%Y-%m-%d"),
    }


def table_rows(result: dict | None = None) -> list[list[str]]:
    """Rows for the results table (from ``bench/sql_result.json`` by default)."""
    if result is None:
        result = json.loads(RESULT.read_text(encoding="utf-8"))
    out = []
    for r in result["rows"]:
        out.append(
            [
                f"{r['n_sites']:,}",
                f"{r['assign_embedded_s']:.2f} s",
                f"{r['assign_postgis_s']:.2f} s",
                f"{r['assign_postgis_s'] / r['assign_embedded_s']:.1f}×",
                f"{r['summarize_embedded_s']:.2f} s",
                f"{r['summarize_postgis_s']:.2f} s",
                "yes" if r["same_assignment"] and r["same_coverage"] else "**no**",
                f"{r['on_border']:,}",
            ]
        )
    return out


TABLE_HEAD = [
    "registry rows",
    "assign_sites embedded",
    "assign_sites in PostGIS",
    "PostGIS / embedded",
    "summarize (township) embedded",
    "summarize in PostGIS (GROUP BY + KNN)",
    "same codes, flags, counts, distances",
    "on a border",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="PostgreSQL URL (default: the test server)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("-o", "--output", type=Path, default=RESULT)
    args = parser.parse_args(argv)
    result = measure(args.url or _default_url(), args.sizes, reps=args.reps)
    args.output.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    for row in table_rows(result):
        print("| " + " | ".join(row) + " |")
    ok = all(r["same_assignment"] and r["same_coverage"] for r in result["rows"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
