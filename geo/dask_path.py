"""Country-scale batch path: ``summarize`` and ``assign`` on inputs larger than memory, on Dask.

The in-memory path (:func:`geo.assign.assign_sites` → :func:`geo.coverage.summarize`) holds every
site at once. Here the sites stay in partitions (CSV read in blocks, or Parquet), each partition
goes through the very same :func:`~geo.assign.assign_sites` with the units broadcast once to every
worker, and is reduced to small :class:`~geo.coverage_parts.CoverageParts` (counts, units served,
nearest-site distances) that merge in a tree; :func:`geo.coverage_parts.finish` builds the same
table as ``summarize``. Assignment is row by row, so the counts equal the in-memory path's
whatever the partitioning.

Partitioning is spatial when the input was prepared with :func:`partition_spatially` (points
sorted along a Hilbert curve with dask-geopandas, written as Parquet): each partition then holds
one compact area, which keeps the polygons each partition touches few. Sites without coordinates
(placed at seats during assignment) sort last.

Scheduling: Dask's threaded scheduler by default (the assignment is vectorised numpy/shapely, and
threads share the broadcast units at no cost; on 2 cores it beat a local cluster of 2 worker
processes, see ``bench/dask_result.json``), ``scheduler="processes"`` for a local cluster of 2
worker processes, or an existing Dask cluster via ``scheduler_address="tcp://host:8786"``.

Command line::

    python -m geo.dask_path partition --sites big.csv -o big.parquet
    python -m geo.dask_path summarize --sites big.parquet --level township -o towns.csv
    python -m geo.dask_path assign --sites big.parquet -o assigned.parquet   # or .csv
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from geo._errors import InputError
from geo.boundaries import Units, load_units
from geo.coverage import LEVELS
from geo.coverage_parts import CoverageParts, finish, merge, parts_from_sites
from geo.crs import CGCS2000, WGS84
from layers.coords import parse_crs
from layers.schema import COLUMNS, LAYERS

LOCAL_WORKERS = 2
BLOCKSIZE = "8MB"  # ~10⁵ sites per partition: balanced on 2 workers, small in memory
_MERGE_FAN_IN = 8
_TRUE = {"true", "1", "yes", "y", "是", "t"}


# -- reading ----------------------------------------------------------------------------------
def canonical(
    part: pd.DataFrame, *, filename: str = "", crs: str | None = None, convert: bool = True
) -> pd.DataFrame:
    """A partition in the shape :func:`geo.assign.assign_sites` expects (canonical columns).

    Headers are matched as ``read_sites`` matches them (名称, 经度, 所属县区 …). With ``convert``
    (a registry file), ``lon``/``lat`` are in each row's ``source_crs`` (else ``crs``, else
    WGS84), as the registry writer and ``python -m geo.db export`` write them (e.g. GCJ-02 for a
    site published on Amap), and are converted to WGS84 here; without it (Parquet written by
    :func:`partition_spatially`) they are WGS84 already. Unparseable coordinates, and rows whose
    ``source_crs`` names no coordinate system, have no point: assignment places them by their
    stated place or reports them (``unplaced``), never drops them.
    """
    from layers.columns import LONLAT, map_columns

    out = part.copy()
    rename = {h: c for h, c in map_columns(out.columns).rename.items() if c != LONLAT and h != c}
    out = out.rename(columns={h: c for h, c in rename.items() if c not in out.columns})
    for col in COLUMNS:
        if col not in out:
            out[col] = ""
    for col in COLUMNS:
        if col not in ("lon", "lat", "year", "is_sample"):
            out[col] = out[col].fillna("").astype(str)
    out["lon"] = pd.to_numeric(out["lon"], errors="coerce").astype(float)
    out["lat"] = pd.to_numeric(out["lat"], errors="coerce").astype(float)
    if convert:
        _to_wgs84(out, default=crs)
    out["year"] = pd.array(pd.to_numeric(out["year"], errors="coerce"), dtype="Int64")
    if out["is_sample"].dtype != bool:
        out["is_sample"] = out["is_sample"].astype(str).str.strip().str.lower().isin(_TRUE)
    out["status"] = out["status"].where(out["status"] != "", "built")
    has_point = out["lon"].notna() & out["lat"].notna()
    out["location_precision"] = out["location_precision"].where(~has_point, "exact")
    if "file" not in out:
        out["file"] = filename
    return out


def _to_wgs84(frame: pd.DataFrame, *, default: str | None) -> None:
    """Coordinates in each row's system (``source_crs``, else ``default``) to WGS84, in place."""
    from layers.coords import parse_crs, to_wgs84_any

    has = frame["lon"].notna() & frame["lat"].notna()
    stated = frame["source_crs"].str.strip()
    labels = stated.where(stated != "", default or WGS84)
    for text in pd.unique(labels[has]):
        rows = (has & (labels == text)).to_numpy()
        try:
            label = parse_crs(str(text))
        except InputError:
            label = None
        if label in (WGS84, CGCS2000):
            frame.loc[rows, "source_crs"] = label
            continue
        if label is None:
            frame.loc[rows, ["lon", "lat"]] = np.nan
            continue
        lon, lat = to_wgs84_any(frame.loc[rows, "lon"], frame.loc[rows, "lat"], label)
        ok = np.isfinite(lon) & np.isfinite(lat)
        frame.loc[rows, "lon"] = np.where(ok, lon, np.nan)
        frame.loc[rows, "lat"] = np.where(ok, lat, np.nan)
        frame.loc[rows, "source_crs"] = label


def read_large(source: Path | str, *, blocksize: str = BLOCKSIZE, crs: str | None = None):
    """Sites as a Dask DataFrame in canonical shape, from CSV (read in blocks; coordinates in
    each row's ``source_crs``, else ``crs``, else WGS84) or Parquet (WGS84, as
    :func:`partition_spatially` writes it)."""
    import dask.dataframe as dd

    path = Path(source)
    if not path.exists():
        raise InputError(f"{path}: file not found.")
    declared = parse_crs(crs) if crs else None
    convert = True
    if path.is_dir() or path.suffix.lower() in (".parquet", ".pq"):
        if crs:
            raise InputError(f"{path.name}: batch-path Parquet is WGS84; --crs is for CSV.")
        ddf = dd.read_parquet(str(path))
        convert = False
    elif path.suffix.lower() in (".csv", ".txt"):
        ddf = dd.read_csv(
            str(path),
            dtype=str,
            keep_default_na=False,
            blocksize=blocksize,
            encoding="utf-8-sig",
        )
        ddf = ddf.assign(row=ddf.assign(_one=1)["_one"].cumsum() + 1)  # header is row 1
    else:
        raise InputError(f"{path.name}: the batch path reads CSV or Parquet.")
    options = {"filename": path.name, "crs": declared, "convert": convert}
    meta = canonical(ddf._meta, **options)
    return ddf.map_partitions(canonical, **options, meta=meta)


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


def partition_spatially(
    source: Path | str,
    output: Path | str,
    *,
    npartitions: int | None = None,
    level: int = 16,
    scheduler_address: str | None = None,
    scheduler: str = "threads",
    crs: str | None = None,
) -> Path:
    """Sort sites along a Hilbert curve (dask-geopandas' encoding) into Parquet partitions
    (coordinates converted to WGS84 on the way; ``crs`` as in :func:`read_large`)."""
    import dask

    output = Path(output)
    with _scheduler(scheduler_address, scheduler):
        ddf = read_large(source, crs=crs)
        lon, lat = ddf["lon"], ddf["lat"]
        bounds = dask.compute(lon.min(), lat.min(), lon.max(), lat.max())
        bounds = tuple(float(b) for b in bounds)
        if not all(np.isfinite(bounds)):
            bounds = (-180.0, -90.0, 180.0, 90.0)
        meta = _with_hilbert(ddf._meta, bounds, level)
        keyed = ddf.map_partitions(_with_hilbert, bounds, level, meta=meta)
        keyed = keyed.set_index("hilbert", npartitions=npartitions or ddf.npartitions)
        keyed.to_parquet(str(output), write_index=True)
    return output


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


def _partition_parts(
    part: pd.DataFrame, units: Units, layers: list[str], include_samples: bool
) -> CoverageParts:
    sites = _selected(part, layers, include_samples)
    if sites.empty:
        return CoverageParts()
    return parts_from_sites(_assigned(sites, units), units.township_seats, layers=layers)


def summarize_large(
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
    """:func:`geo.coverage.summarize` of a sites file of any size (CSV or Parquet).

    Same table, same numbers as the in-memory path; samples are left out unless asked for, as in
    ``python -m geo summarize``.
    """
    from dask import delayed

    if level not in LEVELS:
        raise InputError(f"level must be one of {LEVELS}, not '{level}'")
    layers = layers or list(LAYERS)
    units = units or load_units()
    ddf = read_large(sites, blocksize=blocksize, crs=crs)
    with _scheduler(scheduler_address, scheduler) as client:
        shared = _broadcast(client, units)
        parts = [
            delayed(_partition_parts)(d, shared, layers, include_samples) for d in ddf.to_delayed()
        ]
        while len(parts) > 1:
            parts = [
                delayed(merge)(parts[i : i + _MERGE_FAN_IN])
                for i in range(0, len(parts), _MERGE_FAN_IN)
            ]
        merged = parts[0].compute() if parts else CoverageParts()
    return finish(units, merged, level=level, layers=layers)


def _assigned(sites: pd.DataFrame, units: Units):
    """The in-memory steps after reading, on one partition: place names made matchable
    (:func:`geo.places.normalize_places`: old and official names, aliases), then assignment."""
    from geo.assign import assign_sites
    from geo.places import normalize_places

    sites, _ = normalize_places(sites.reset_index(drop=True), units)
    return assign_sites(sites, units)


def _assign_partition(part: pd.DataFrame, units: Units) -> pd.DataFrame:
    if part.empty:
        return pd.DataFrame()
    return pd.DataFrame(_assigned(part, units).drop(columns="geometry"))


def assign_large(
    sites: Path | str,
    output: Path | str,
    *,
    units: Units | None = None,
    scheduler_address: str | None = None,
    scheduler: str = "threads",
    batch: int = 2 * LOCAL_WORKERS,
    blocksize: str = BLOCKSIZE,
    crs: str | None = None,
) -> Path:
    """:func:`geo.assign.assign_sites` of a sites file of any size, written as it goes.

    ``output`` ending in ``.csv``: one CSV (UTF-8 with BOM, formulas neutralised, like ``python
    -m geo assign``), partitions appended in input order; otherwise a Parquet directory. Returns
    the number of rows via the written file; the output has lon/lat and no geometry column.
    """
    import dask
    from dask import delayed

    from geo.export import to_csv

    output = Path(output)
    units = units or load_units()
    ddf = read_large(sites, blocksize=blocksize, crs=crs)
    with _scheduler(scheduler_address, scheduler) as client:
        shared = _broadcast(client, units)
        pieces = [delayed(_assign_partition)(d, shared) for d in ddf.to_delayed()]
        if output.suffix.lower() == ".csv":
            output.parent.mkdir(parents=True, exist_ok=True)
            tmp = output.with_name(output.name + ".part")
            first = True
            with tmp.open("wb") as handle:
                for start in range(0, len(pieces), batch):
                    for frame in dask.compute(*pieces[start : start + batch]):
                        if frame.empty:
                            continue
                        data = to_csv(frame)
                        if not first:  # header and BOM once
                            data = data.split(b"\n", 1)[1] if b"\n" in data else b""
                        handle.write(data)
                        first = False
            tmp.replace(output)
        else:
            import dask.dataframe as dd

            probe = canonical(pd.DataFrame({"name": ["probe"], "layer": ["park"]}))
            meta = _assign_partition(probe, units).head(0)
            out = dd.from_delayed(pieces, meta=meta, verify_meta=False)
            out.to_parquet(str(output), write_index=False)
    return output


# -- command line -----------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m geo.dask_path", description="Country-scale batch path on Dask."
    )
    parser.add_argument("--scheduler-address", help="a Dask scheduler, e.g. tcp://host:8786")
    parser.add_argument("--scheduler", choices=("threads", "processes"), default="threads")
    parser.add_argument(
        "--crs",
        metavar="NAME",
        help="coordinate system of a CSV's lon/lat where a row does not say (source_crs): "
        "WGS84 (default), CGCS2000, GCJ-02, BD-09, EPSG:nnnn",
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    common = {
        "scheduler_address": args.scheduler_address,
        "scheduler": args.scheduler,
        "crs": args.crs,
    }
    try:
        if args.command == "partition":
            partition_spatially(args.sites, args.output, npartitions=args.npartitions, **common)
        elif args.command == "summarize":
            from geo.export import export, format_from_suffix

            table = summarize_large(
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
            assign_large(args.sites, args.output, **common)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
