"""Country-scale batch path: ``summarize`` and ``assign`` on inputs larger than memory, on Dask.

The in-memory path (``read_sites`` → place names → :func:`geo.assign.assign_sites` →
:func:`geo.coverage.summarize`) holds every site at once, and its reader stops at 200,000 rows.
Here the sites stay in blocks (CSV read ``BLOCKSIZE`` at a time, or Parquet). Each block goes
through the very same steps: the reader's checks (:mod:`geo.batch_rows`, with the file's row
numbers; duplicates across blocks from a first pass), :func:`geo.places.normalize_places` and
:func:`~geo.assign.assign_sites` with the units broadcast once to every worker. It is then
reduced to a small :class:`~geo.coverage.CoverageParts` (counts, units served,
nearest-site distances), and the parts merge in a tree; :func:`geo.coverage.finish` builds
the same table as ``summarize``. Every step is row by row (duplicates aside, handled
globally), so the counts equal the in-memory path's however the file is split. The rows left out
or flagged come back as :class:`~geo.batch_rows.Issues`.

Partitioning is spatial when the input was prepared with :func:`partition_spatially` (points
sorted along a Hilbert curve with dask-geopandas, written as Parquet): each partition then holds
one compact area, which keeps the polygons each partition touches few. Sites without coordinates
(placed at seats during assignment) sort last.

Scheduling: Dask's threaded scheduler by default (threads share the broadcast units at no cost,
each with its own prepared copies of the polygons, and hold the least memory),
``scheduler="processes"`` for a local cluster of 2 worker processes (faster on large files here:
``bench/dask_result.json``), or an existing Dask cluster via
``scheduler_address="tcp://host:8786"``.

Command line::

    python -m geo.dask_path partition --sites big.csv -o big.parquet
    python -m geo.dask_path summarize --sites big.parquet --level township -o towns.csv
    python -m geo.dask_path assign --sites big.parquet -o assigned.parquet   # or .csv
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from base.errors import InputError, StoreError
from geo.assign import assign_sites, problems
from geo.batch_rows import (
    MAX_EXAMPLES,
    Issues,
    block_keys,
    check_block,
    duplicate_rows,
    issues_of,
    merge_issues,
)
from geo.boundaries import Units
from geo.coverage import LEVELS, CoverageParts, finish, merge, parts_from_sites
from geo.export import export, format_from_suffix, to_csv
from geo.loader import load_units
from geo.places import normalize_places
from layers.coords import parse_crs
from layers.schema import COLUMNS, LAYERS

LOCAL_WORKERS = 2
BLOCKSIZE = "8MB"  # ~10⁵ sites per partition: balanced on 2 workers, small in memory
_MERGE_FAN_IN = 8


# -- reading ----------------------------------------------------------------------------------
def stored_sites(part: pd.DataFrame) -> pd.DataFrame:
    """A block of the Parquet :func:`partition_spatially` writes, as ``assign_sites`` takes it.

    Those rows were checked when the CSV was read; Parquet keeps their types, so only the
    Hilbert index is dropped and text columns are made plain text again.
    """
    out = part.reset_index(drop=True)
    text = [c for c in out.columns if c in COLUMNS and str(out[c].dtype) in ("str", "string")]
    return out.astype(dict.fromkeys(text, object))


@dataclass(frozen=True)
class Rules:
    """How the blocks of one file are read (passed to every task; holds no Dask collection)."""

    filename: str
    checked: bool  # Parquet written by partition_spatially: sites already checked
    crs: str | None = None
    duplicates: dict = field(default_factory=dict)  # key hash → first row (see batch_rows)


@dataclass(frozen=True)
class Blocks:
    """A sites file as Dask blocks: text rows with their ``row`` numbers (CSV, checked block by
    block with the product's validation), or sites already checked (Parquet written by
    :func:`partition_spatially`)."""

    frame: object  # dask DataFrame
    rules: Rules


def open_blocks(
    source: Path | str, *, blocksize: str = BLOCKSIZE, crs: str | None = None
) -> Blocks:
    """The blocks of a CSV (read ``blocksize`` at a time; coordinates in each row's
    ``source_crs``, else ``crs``, else WGS84) or of batch-path Parquet (WGS84, checked)."""
    import dask.dataframe as dd

    path = Path(source)
    if not path.exists():
        raise InputError(f"{path}: file not found.")
    declared = parse_crs(crs) if crs else None
    if path.is_dir() or path.suffix.lower() in (".parquet", ".pq"):
        if crs:
            raise InputError(f"{path.name}: batch-path Parquet is WGS84; --crs is for CSV.")
        return Blocks(dd.read_parquet(str(path)), Rules(path.name, checked=True))
    if path.suffix.lower() not in (".csv", ".txt"):
        raise InputError(f"{path.name}: the batch path reads CSV or Parquet.")
    ddf = dd.read_csv(
        str(path),
        dtype=str,
        keep_default_na=False,
        blocksize=blocksize,
        encoding=_encoding(path),
    )
    ddf = ddf.assign(row=ddf.assign(_one=1)["_one"].cumsum() + 1)  # header is row 1
    return Blocks(ddf, Rules(path.name, checked=False, crs=declared))


def _encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) unless the file's start is not: then GB18030 (a superset of
    GBK, what Excel in China saves CSV as)."""
    head = path.open("rb").read(1 << 16)
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
            return "gb18030"
    return "utf-8-sig"


def with_duplicates(blocks: Blocks) -> Blocks:
    """First pass over a CSV: rows repeating a site of an earlier block (the one check that needs
    the whole file), so that every block then rejects them as the in-memory reader would."""
    if blocks.rules.checked:
        return blocks
    import dask.dataframe as dd
    from dask import delayed

    options = {"filename": blocks.rules.filename, "crs": blocks.rules.crs}
    parts = [delayed(block_keys)(d, **options) for d in blocks.frame.to_delayed()]
    meta = pd.DataFrame({"key": pd.Series(dtype=np.uint64), "row": pd.Series(dtype=np.int64)})
    keys = dd.from_delayed(parts, meta=meta, verify_meta=False)
    return replace(blocks, rules=replace(blocks.rules, duplicates=duplicate_rows(keys)))


def _checked(part: pd.DataFrame, rules: Rules) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Accepted sites and rejected rows of one block."""
    if rules.checked:
        return stored_sites(part), Issues().examples
    return check_block(part, filename=rules.filename, crs=rules.crs, duplicates=rules.duplicates)


def _checked_sites(part: pd.DataFrame, rules: Rules) -> pd.DataFrame:
    """Accepted sites of one block, text columns typed as text (so Parquet knows them even
    from an empty block)."""
    sites = _checked(part, rules)[0]
    text = [c for c in sites.columns if sites[c].dtype == object]
    return sites.astype(dict.fromkeys(text, "str"))


# -- spatial partitioning ---------------------------------------------------------------------
def _with_hilbert(part: pd.DataFrame, total_bounds, level: int) -> pd.DataFrame:
    import geopandas as gpd
    import shapely

    key = np.full(len(part), np.iinfo(np.int64).max, dtype=np.int64)  # no point: last
    ok = (part["lon"].notna() & part["lat"].notna()).to_numpy()
    if ok.any():
        pts = gpd.GeoSeries(shapely.points(part["lon"].to_numpy()[ok], part["lat"].to_numpy()[ok]))
        key[ok] = pts.hilbert_distance(total_bounds=total_bounds, level=level).to_numpy()
    return part.assign(hilbert=key)


def _block_bounds(part: pd.DataFrame, rules: Rules) -> tuple[np.ndarray, Issues]:
    sites, rejects = _checked(part, rules)
    ok = sites["lon"].notna() & sites["lat"].notna()
    lon, lat = sites.loc[ok, "lon"], sites.loc[ok, "lat"]
    if lon.empty:
        return np.full(4, np.nan), issues_of(rejects)
    return np.array([lon.min(), lat.min(), lon.max(), lat.max()]), issues_of(rejects)


def partition_spatially(source: Path | str, output: Path | str, **options) -> Path:
    """Sort sites along a Hilbert curve into Parquet partitions (see
    :func:`partition_spatially_report`)."""
    return partition_spatially_report(source, output, **options)[0]


def partition_spatially_report(
    source: Path | str,
    output: Path | str,
    *,
    npartitions: int | None = None,
    level: int = 16,
    scheduler_address: str | None = None,
    scheduler: str = "threads",
    crs: str | None = None,
    blocksize: str = BLOCKSIZE,
) -> tuple[Path, Issues]:
    """Sort the accepted sites along a Hilbert curve (dask-geopandas' encoding) into Parquet
    partitions (checked, WGS84), and say which rows were rejected."""
    import dask
    from dask import delayed

    output = Path(output)
    blocks = open_blocks(source, blocksize=blocksize, crs=crs)
    with _scheduler(scheduler_address, scheduler):
        blocks = with_duplicates(blocks)
        found = dask.compute(
            *[delayed(_block_bounds)(d, blocks.rules) for d in blocks.frame.to_delayed()]
        )
        boxes = np.array([b for b, _ in found]).reshape(-1, 4)
        issues = merge_issues([i for _, i in found])
        with warnings.catch_warnings():  # blocks without a point: all-NaN columns
            warnings.simplefilter("ignore", RuntimeWarning)
            low, high = np.nanmin(boxes[:, :2], axis=0), np.nanmax(boxes[:, 2:], axis=0)
        bounds = tuple(float(v) for v in (*low, *high))
        if not all(np.isfinite(bounds)):
            bounds = (-180.0, -90.0, 180.0, 90.0)
        rules = blocks.rules
        ddf = blocks.frame.map_partitions(
            _checked_sites, rules, meta=_checked_sites(blocks.frame._meta, rules)
        )
        meta = _with_hilbert(ddf._meta, bounds, level)
        keyed = ddf.map_partitions(_with_hilbert, bounds, level, meta=meta)
        keyed = keyed.set_index("hilbert", npartitions=npartitions or ddf.npartitions)
        keyed.to_parquet(str(output), write_index=True)
    return output, issues


# -- scheduling -------------------------------------------------------------------------------
@contextlib.contextmanager
def _scheduler(scheduler_address: str | None, scheduler: str = "threads") -> Iterator:
    """A distributed Client (remote, or a local cluster), or None for the threaded scheduler."""
    import dask

    if scheduler_address:
        from distributed import Client

        with Client(scheduler_address) as client:
            yield client
    elif scheduler == "threads":
        with dask.config.set(scheduler="threads"):
            yield None
    elif scheduler in ("processes", "local-cluster"):
        from distributed import Client, LocalCluster

        with (
            LocalCluster(
                n_workers=LOCAL_WORKERS,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
    else:
        raise InputError(f"scheduler must be 'processes' or 'threads', not '{scheduler}'")


def _broadcast(client, units: Units):
    from dask import delayed

    if client is not None:
        return client.scatter(units, broadcast=True, hash=False)
    return delayed(units, name="xining-units", traverse=False)


# -- the two commands -------------------------------------------------------------------------
def _selected(part: pd.DataFrame, layers: Sequence[str], include_samples: bool) -> pd.DataFrame:
    keep = part["layer"].isin(layers)
    if not include_samples:
        keep &= ~part["is_sample"].astype(bool)
    return part[keep]


def _block_parts(
    part: pd.DataFrame, rules: Rules, units: Units, layers: list[str], include_samples: bool
) -> tuple[CoverageParts, Issues]:
    sites, rejects = _checked(part, rules)
    sites = _selected(sites, layers, include_samples)
    if sites.empty:
        return CoverageParts(), issues_of(rejects)
    assigned = _assigned(sites, units)
    parts = parts_from_sites(assigned, units.township_seats, layers=layers)
    return parts, issues_of(rejects, problems(assigned))


def _merge_pairs(pairs: list[tuple[CoverageParts, Issues]]) -> tuple[CoverageParts, Issues]:
    return merge([p for p, _ in pairs]), merge_issues([i for _, i in pairs])


def summarize_large_report(
    sites: Path | str,
    *,
    level: str = "county",
    layers: list[str] | None = None,
    include_samples: bool = False,
    units: Units | None = None,
    scheduler_address: str | None = None,
    scheduler: str = "threads",
    blocksize: str = BLOCKSIZE,
    crs: str | None = None,
):
    """:func:`summarize_large` and the :class:`~geo.batch_rows.Issues` of the file's rows
    (rejected by the product's checks, or placed outside the city / not at all)."""
    from dask import delayed

    if level not in LEVELS:
        raise InputError(f"level must be one of {LEVELS}, not '{level}'")
    layers = layers or list(LAYERS)
    units = units or load_units()
    blocks = open_blocks(sites, blocksize=blocksize, crs=crs)
    with _scheduler(scheduler_address, scheduler) as client:
        blocks = with_duplicates(blocks)
        shared = _broadcast(client, units)
        pairs = [
            delayed(_block_parts)(d, blocks.rules, shared, layers, include_samples)
            for d in blocks.frame.to_delayed()
        ]
        while len(pairs) > 1:
            pairs = [
                delayed(_merge_pairs)(pairs[i : i + _MERGE_FAN_IN])
                for i in range(0, len(pairs), _MERGE_FAN_IN)
            ]
        merged, issues = pairs[0].compute() if pairs else (CoverageParts(), Issues())
    return finish(units, merged, level=level, layers=layers), issues


def summarize_large(sites: Path | str, **options):
    """:func:`geo.coverage.summarize` of a sites file of any size (CSV or Parquet).

    Same table, same numbers as the in-memory path (``python -m geo summarize``): the rows go
    through the same checks, place names and assignment; samples are left out unless asked for.
    Options as :func:`summarize_large_report`, which also says which rows were left out and why.
    """
    return summarize_large_report(sites, **options)[0]


def _assigned(sites: pd.DataFrame, units: Units):
    """The in-memory steps after reading, on one partition: place names made matchable
    (:func:`geo.places.normalize_places`: old and official names, aliases), then assignment."""
    sites, _ = normalize_places(sites.reset_index(drop=True), units)
    return assign_sites(sites, units)


def _assign_block(part: pd.DataFrame, rules: Rules, units: Units) -> tuple[pd.DataFrame, Issues]:
    sites, rejects = _checked(part, rules)
    if sites.empty:
        return pd.DataFrame(), issues_of(rejects)
    assigned = _assigned(sites, units)
    return pd.DataFrame(assigned.drop(columns="geometry")), issues_of(rejects, problems(assigned))


def assign_large(sites: Path | str, output: Path | str, **options) -> Path:
    """:func:`geo.assign.assign_sites` of a sites file of any size, written as it goes.

    Options and the rows left out: :func:`assign_large_report`.
    """
    return assign_large_report(sites, output, **options)[0]


def assign_large_report(
    sites: Path | str,
    output: Path | str,
    *,
    units: Units | None = None,
    scheduler_address: str | None = None,
    scheduler: str = "threads",
    batch: int = 2 * LOCAL_WORKERS,
    blocksize: str = BLOCKSIZE,
    crs: str | None = None,
) -> tuple[Path, Issues]:
    """Every accepted site with its county and township, and the rows' :class:`Issues`.

    ``output`` ending in ``.csv``: one CSV (UTF-8 with BOM, formulas neutralised, like ``python
    -m geo assign``), blocks appended in input order; otherwise a Parquet directory with one
    file per block. Either has lon/lat and no geometry column; ``batch`` blocks are in memory at
    a time.
    """
    import dask
    from dask import delayed

    output = Path(output)
    units = units or load_units()
    blocks = open_blocks(sites, blocksize=blocksize, crs=crs)
    as_csv = output.suffix.lower() == ".csv"
    tmp = output.with_name(output.name + ".part")
    if tmp.exists() and tmp.is_dir():
        import shutil

        shutil.rmtree(tmp)
    every: list[Issues] = []
    with _scheduler(scheduler_address, scheduler) as client:
        blocks = with_duplicates(blocks)
        shared = _broadcast(client, units)
        pieces = [
            delayed(_assign_block)(d, blocks.rules, shared) for d in blocks.frame.to_delayed()
        ]
        output.parent.mkdir(parents=True, exist_ok=True)
        if not as_csv:
            tmp.mkdir()
        with tmp.open("wb") if as_csv else contextlib.nullcontext() as handle:
            first, n = True, 0
            for start in range(0, len(pieces), batch):
                for frame, issues in dask.compute(*pieces[start : start + batch]):
                    every.append(issues)
                    if frame.empty:
                        continue
                    if not as_csv:
                        frame.to_parquet(tmp / f"part.{n:05d}.parquet", index=False)
                        n += 1
                        continue
                    data = to_csv(frame)
                    if not first:  # header and BOM once
                        data = data.split(b"\n", 1)[1] if b"\n" in data else b""
                    handle.write(data)
                    first = False
    if output.exists() and output.is_dir():
        import shutil

        shutil.rmtree(output)
    tmp.replace(output)
    return output, merge_issues(every)


# -- command line -----------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m geo.dask_path",
        description="Country-scale batch path on Dask. Exit codes: 0 success; 1 some rows were "
        "rejected or could not be placed in the city (the others are processed; the first "
        "ones are printed with row number and reason, all of them counted); 2 unusable input.",
    )
    parser.add_argument("--scheduler-address", help="a Dask scheduler, e.g. tcp://host:8786")
    parser.add_argument("--scheduler", choices=("threads", "processes"), default="threads")
    parser.add_argument(
        "--crs",
        metavar="NAME",
        help="coordinate system of a CSV's lon/lat where a row does not say (source_crs): "
        "WGS84 (default), CGCS2000, GCJ-02, BD-09, EPSG:nnnn",
    )
    parser.add_argument(
        "--report",
        type=Path,
        metavar="FILE",
        help=f"write the rows left out or flagged (the first {MAX_EXAMPLES:,}) as CSV",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("partition", help="sort sites along a Hilbert curve into Parquet")
    p.add_argument("--sites", type=Path, required=True)
    p.add_argument("--npartitions", type=int)
    p.add_argument("-o", "--output", type=Path, required=True)
    s = sub.add_parser("summarize", help="coverage per county or township")
    s.add_argument("--sites", type=Path, required=True)
    s.add_argument("--level", choices=LEVELS, default="county")
    s.add_argument("--layer", nargs="+", choices=list(LAYERS), metavar="NAME")
    s.add_argument("--include-samples", action="store_true")
    s.add_argument("-o", "--output", type=Path, required=True, help=".csv/.xlsx/.geojson/.gpkg")
    a = sub.add_parser("assign", help="every site with its county and township")
    a.add_argument("--sites", type=Path, required=True)
    a.add_argument("-o", "--output", type=Path, required=True, help=".csv or .parquet")
    return parser


PRINTED = 20  # rows printed to the terminal; the report holds more, the counts all


def _say(issues: Issues, report: Path | None) -> None:
    """Counts by reason, the first rows with their numbers, and the report file."""
    for kind, n in sorted(issues.counts.items(), key=lambda kv: -kv[1]):
        print(f"{n:>9,} rows {kind}", file=sys.stderr)
    for r in issues.examples.head(PRINTED).itertuples(index=False):
        value = f" ({r.value})" if str(r.value) else ""
        column = f", column {r.column}" if r.column else ""
        print(f"{r.outcome}: {r.file} row {r.row}{column}: {r.reason}{value}", file=sys.stderr)
    if issues.total > PRINTED:
        print(f"… {issues.total - PRINTED:,} more rows", file=sys.stderr)
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_bytes(to_csv(issues.examples))
        print(
            f"wrote {report} ({len(issues.examples):,} of {issues.total:,} rows)", file=sys.stderr
        )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    common = {
        "scheduler_address": args.scheduler_address,
        "scheduler": args.scheduler,
        "crs": args.crs,
    }
    try:
        if args.command == "partition":
            _, issues = partition_spatially_report(
                args.sites, args.output, npartitions=args.npartitions, **common
            )
        elif args.command == "summarize":
            table, issues = summarize_large_report(
                args.sites,
                level=args.level,
                layers=args.layer,
                include_samples=args.include_samples,
                **common,
            )
            fmt = format_from_suffix(args.output)
            if fmt in ("csv", "xlsx"):
                table = table.drop(columns="geometry")
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_bytes(export(table, fmt, layer=f"{args.level}_coverage"))
        else:
            _, issues = assign_large_report(args.sites, args.output, **common)
    except (InputError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _say(issues, args.report)
    print(f"wrote {args.output}", file=sys.stderr)
    return 1 if issues.total else 0


if __name__ == "__main__":
    sys.exit(main())
