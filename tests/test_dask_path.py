"""Country-scale batch path on Dask: the same numbers as the in-memory path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from base.crs import wgs84_to_gcj02
from base.errors import InputError
from geo import dask_path
from geo.batch_rows import MAX_EXAMPLES
from geo.coverage import summarize
from geo.export import registry_csv
from geo.loader import load_sites
from geo.places import village_short_name
from layers.registry import read_sites
from layers.schema import COLUMNS, LAYERS

ROOT = Path(__file__).resolve().parents[1]


def _synthetic(units, n: int, *, seed: int = 3) -> pd.DataFrame:
    """Random sites over and around Xining, with samples, seat-placed rows (county or township
    named, no coordinates), villages, and points exactly on township-seat positions."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = units.counties.total_bounds
    frame = pd.DataFrame({c: "" for c in COLUMNS}, index=range(n))
    frame["name"] = [f"站{i}" for i in range(n)]
    frame["layer"] = rng.choice(list(LAYERS), n)
    frame["lon"] = rng.uniform(x0 - 0.05, x1 + 0.05, n)
    frame["lat"] = rng.uniform(y0 - 0.05, y1 + 0.05, n)
    seats = units.township_seats.sample(n // 20, replace=True, random_state=seed)
    frame.loc[: len(seats) - 1, ["lon", "lat"]] = seats[["lon", "lat"]].to_numpy()
    blank = frame.index[-(n // 25) :]
    frame.loc[blank, ["lon", "lat"]] = np.nan
    frame.loc[blank, "county"] = rng.choice(units.counties["name"], len(blank))
    frame.loc[blank[::2], "township"] = rng.choice(units.townships["name"], len(blank[::2]))
    villages = units.villages.sample(n // 30, replace=True, random_state=seed)
    frame.loc[frame.index[: len(villages)], "village"] = villages["name"].to_numpy()
    frame["is_sample"] = rng.random(n) < 0.15
    frame["status"] = "built"
    return frame


@pytest.fixture(scope="module")
def synthetic_csv(tmp_path_factory, units):
    frame = _synthetic(units, 6000)
    path = tmp_path_factory.mktemp("dask") / "sites.csv"
    frame.to_csv(path, index=False)
    return path


def _in_memory(units, path: Path, *, include_samples: bool):
    """The product's in-memory path on the same file (``python -m geo summarize|assign``)."""
    return load_sites(units, site_files=[path], include_samples=include_samples).assigned


@pytest.mark.parametrize("level", ["county", "township"])
def test_summarize_large_equals_in_memory(units, synthetic_csv, level):
    assigned = _in_memory(units, synthetic_csv, include_samples=False)
    expected = summarize(units, assigned, level=level)
    got = dask_path.summarize_large(
        synthetic_csv, level=level, scheduler="threads", units=units, blocksize="64kB"
    )
    pd.testing.assert_frame_equal(expected, got)
    assert expected[[f"n_{k}" for k in LAYERS]].to_numpy().sum() > 2000


def test_places_written_loosely_count_as_in_the_product(units, tmp_path):
    """Rows without coordinates naming places the way registries do (province and city in
    front, county and township in one cell, a village's short form, only an address): the batch
    path reads them exactly as ``python -m geo summarize`` does, so every count matches the
    product's in-memory path."""

    frame = _synthetic(units, 1200, seed=5)
    frame["is_sample"] = False
    village = units.villages.iloc[40]
    county = units.counties.set_index("code").loc[village["county_code"], "name"]
    loose = [
        {"county": "青海省西宁市湟源县"},
        {"township": "湟中区多巴镇"},
        {"county": county, "village": village_short_name(village["name"])},
        {"address": "青海省西宁市大通回族土族自治县桥头镇园林路1号"},
    ]
    frame["address"] = ""
    for i, place in enumerate(loose * 10):
        frame.loc[i, ["lon", "lat"]] = np.nan
        frame.loc[i, ["county", "township", "village"]] = ""
        for column, text in place.items():
            frame.loc[i, column] = text
    path = tmp_path / "registry.csv"
    frame.to_csv(path, index=False)
    product = load_sites(units, site_files=[path], include_samples=False)
    assert product.load.rejects.empty and len(product.assigned) == len(frame)
    assert len(product.load.notes) >= len(loose) * 10  # each loose row was read, and said so
    placed = product.assigned.iloc[: len(loose) * 10]
    assert (placed["county_code"] != "").all()
    for level in ("county", "township"):
        expected = summarize(units, product.assigned, level=level)
        got = dask_path.summarize_large(
            path, level=level, scheduler="threads", units=units, blocksize="32kB"
        )
        pd.testing.assert_frame_equal(expected, got)


def _as_the_product_reads(units, path: Path, **options):
    product = load_sites(units, site_files=[path], include_samples=False, **options)
    assert product.load.rejects.empty
    return product.assigned


def test_registry_files_in_gcj02_bd09_and_chinese_headers_count_as_in_the_product(units, tmp_path):
    """A registry as the product writes it (each row's coordinates back in the system it was
    published in: GCJ-02 from Amap, BD-09 from Baidu) under Chinese headers: the batch path
    converts every row as ``read_sites`` does, so counts and points equal the product's."""

    frame = _synthetic(units, 1500, seed=9)
    frame["is_sample"] = False
    plain = tmp_path / "plain.csv"
    frame.to_csv(plain, index=False)
    sites = read_sites(plain).sites
    has = sites["lon"].notna().to_numpy()
    systems = np.where(np.arange(len(sites)) % 3 == 0, "GCJ-02", "BD-09")
    sites["source_crs"] = np.where(has & (np.arange(len(sites)) % 3 != 2), systems, "WGS84")
    written = registry_csv(sites).decode("utf-8-sig")
    header, body = written.split("\n", 1)
    chinese = {"name": "名称", "layer": "图层", "county": "县区", "lon": "经度", "lat": "纬度"}
    header = ",".join(chinese.get(h, h) for h in header.split(","))
    path = tmp_path / "registry.csv"
    path.write_text(header + "\n" + body, encoding="utf-8-sig")
    assert "GCJ-02" in body and "BD-09" in body

    product = _as_the_product_reads(units, path)
    for level in ("county", "township"):
        got = dask_path.summarize_large(
            path, level=level, scheduler="threads", units=units, blocksize="64kB"
        )
        pd.testing.assert_frame_equal(summarize(units, product, level=level), got)
    out = dask_path.assign_large(path, tmp_path / "a.parquet", scheduler="threads", units=units)
    back = pd.read_parquet(out)
    np.testing.assert_allclose(back["lon"], product["lon"], atol=1e-9)
    np.testing.assert_allclose(back["lat"], product["lat"], atol=1e-9)
    assert (back["township_code"].to_numpy() == product["township_code"].to_numpy()).all()


def test_messy_gbk_file_rejects_the_same_rows_as_the_product(units, tmp_path):
    """A registry as offices send them (GB18030 from Excel, Chinese headers, rows without a
    name, of an unknown layer, with broken coordinates, a total row, and the same site again
    far down the file, in another block): the batch path rejects exactly the rows the
    in-memory reader rejects, with the same row numbers, and counts the rest the same."""
    frame = _synthetic(units, 1200, seed=13).astype({"lon": object, "lat": object})
    frame["is_sample"] = False
    frame.loc[10, "name"] = ""
    frame.loc[20, "layer"] = "火箭"
    frame.loc[30, ["lon", "lat"]] = ["abc", "36.6"]
    frame.loc[40, ["lon", "lat"]] = [512.0, 36.6]
    frame.loc[50, ["name", "layer"]] = ["合计 1200个", ""]
    for source, copy in ((60, 1100), (70, 1150), (80, 85)):
        frame.loc[copy] = frame.loc[source]
    chinese = {"name": "名称", "layer": "图层", "county": "县区", "lon": "经度", "lat": "纬度"}
    path = tmp_path / "office.csv"
    frame.rename(columns=chinese).to_csv(path, index=False, encoding="gb18030")

    product = load_sites(units, site_files=[path], include_samples=False)
    expected_rows = set(product.load.rejects["row"])
    assert {12, 22, 32, 42, 52, 1102, 1152, 87} <= expected_rows  # header is row 1

    table, issues = dask_path.summarize_large_report(
        path, level="township", scheduler="threads", units=units, blocksize="16kB"
    )
    assert dask_path.open_blocks(path, blocksize="16kB").frame.npartitions >= 4
    pd.testing.assert_frame_equal(summarize(units, product.assigned, level="township"), table)
    rejected = issues.examples[issues.examples["outcome"] == "rejected"]
    assert set(rejected["row"]) == expected_rows and issues.rejected == len(expected_rows)
    dup = rejected.set_index("row").loc[1102]
    assert dup["reason"] == "duplicate of row 62"


def test_declared_crs_for_a_file_that_does_not_say(units, tmp_path):
    frame = _synthetic(units, 800, seed=11)
    frame["is_sample"] = False
    x, y = wgs84_to_gcj02(frame["lon"].to_numpy(), frame["lat"].to_numpy())
    frame["lon"], frame["lat"] = x, y
    path = tmp_path / "amap.csv"
    frame.to_csv(path, index=False)
    product = _as_the_product_reads(units, path, crs="GCJ-02")
    got = dask_path.summarize_large(
        path, level="township", scheduler="threads", units=units, crs="GCJ-02"
    )
    pd.testing.assert_frame_equal(summarize(units, product, level="township"), got)
    undeclared = dask_path.summarize_large(path, level="township", scheduler="threads", units=units)
    assert not undeclared.equals(got)  # read as WGS84, the ~500 m shift moves sites
    with pytest.raises(InputError, match="Unknown coordinate system 'xyz'"):
        dask_path.summarize_large(path, scheduler="threads", units=units, crs="xyz")


def test_spatially_partitioned_parquet_gives_the_same_counts(units, synthetic_csv, tmp_path):
    out = dask_path.partition_spatially(
        synthetic_csv, tmp_path / "parts.parquet", npartitions=6, scheduler="threads"
    )
    parts = pd.read_parquet(out)
    assert parts.index.is_monotonic_increasing  # sorted along the Hilbert curve
    no_point = parts["lon"].isna()
    assert no_point.any() and (parts.index[no_point] == np.iinfo(np.int64).max).all()
    assigned = _in_memory(units, synthetic_csv, include_samples=True)
    for level in ("county", "township"):
        expected = summarize(units, assigned, level=level, layers=["incubator", "ecommerce"])
        got = dask_path.summarize_large(
            out,
            level=level,
            layers=["incubator", "ecommerce"],
            include_samples=True,
            scheduler="threads",
            units=units,
        )
        pd.testing.assert_frame_equal(expected, got)


def test_given_scheduler_address_uses_that_cluster(units, synthetic_csv):
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        before = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.transition_counter)
        got = dask_path.summarize_large(
            synthetic_csv, scheduler_address=cluster.scheduler_address, units=units
        )
        after = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.transition_counter)
        # the blocks ran on that cluster: its scheduler moved tasks through their states
        # (the threaded scheduler, used when the address is ignored, leaves it at rest)
        assert after - before >= 3 * 2  # at least read + count + merge, each pending → done
    assigned = _in_memory(units, synthetic_csv, include_samples=False)
    pd.testing.assert_frame_equal(summarize(units, assigned, level="county"), got)


def test_assign_large_writes_every_row_as_in_memory(units, synthetic_csv, tmp_path):
    expected = _in_memory(units, synthetic_csv, include_samples=True)
    keys = ["name", "county_code", "township_code", "assign_method", "flags"]
    out_csv = dask_path.assign_large(
        synthetic_csv, tmp_path / "a.csv", scheduler="threads", units=units, blocksize="64kB"
    )
    assert out_csv.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel-friendly, one header
    back = pd.read_csv(out_csv, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(back[keys], expected[keys].astype(str), check_dtype=False)
    out_pq = dask_path.assign_large(
        synthetic_csv, tmp_path / "a.parquet", scheduler="threads", units=units
    )
    back = pd.read_parquet(out_pq)
    assert len(back) == len(expected)
    assert (back["county_code"].to_numpy() == expected["county_code"].to_numpy()).all()


def test_command_line_summarize(synthetic_csv, tmp_path):
    out = tmp_path / "towns.csv"
    env = {k: v for k, v in os.environ.items() if not k.startswith("XINING_DATABASE")}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "geo.dask_path",
            "--scheduler",
            "threads",
            "--report",
            str(tmp_path / "rows.csv"),
            "summarize",
            "--sites",
            str(synthetic_csv),
            "--level",
            "township",
            "-o",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    # the synthetic sites include some outside the city: processed, said, exit 1 (as geo summarize)
    assert proc.returncode == 1, proc.stderr
    assert "rows problem: outside_city" in proc.stderr and "sites.csv row " in proc.stderr
    back = pd.read_csv(out, encoding="utf-8-sig", dtype={"code": str})
    assert len(back) == 80 + 7 and back["n_park"].sum() > 0
    rows = pd.read_csv(tmp_path / "rows.csv", encoding="utf-8-sig")
    assert len(rows) == MAX_EXAMPLES and rows["row"].is_monotonic_increasing
    assert set(rows["outcome"]) == {"problem"}


def test_unusable_input_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        dask_path.summarize_large(tmp_path / "nope.csv", scheduler="threads")
    bad = tmp_path / "x.xlsx"
    bad.write_bytes(b"")
    with pytest.raises(InputError, match="CSV or Parquet"):
        dask_path.summarize_large(bad, scheduler="threads")


def test_local_cluster_of_worker_processes(units, tmp_path):
    frame = _synthetic(units, 1500, seed=9)
    path = tmp_path / "small.csv"
    frame.to_csv(path, index=False)
    got = dask_path.summarize_large(path, scheduler="processes", units=units, blocksize="32kB")
    assigned = _in_memory(units, path, include_samples=False)
    pd.testing.assert_frame_equal(summarize(units, assigned, level="county"), got)
