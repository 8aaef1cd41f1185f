"""Saving an upload as a layer's default: atomic, versioned, undoable, safe under concurrency."""

from __future__ import annotations

import multiprocessing as mp
import shutil
from pathlib import Path

import pandas as pd
import pytest

from geo._errors import InputError
from geo.settings import SITES_DIR
from layers.registry import read_sites
from layers.store import history, registry_csv, save_registry, undo_last


def _sites(n: int, tag: str) -> pd.DataFrame:
    rows = "".join(f"{tag}站{i},ecommerce,城北区,{101.70 + i / 1000:.3f},36.65\n" for i in range(n))
    return read_sites(f"name,layer,county,lon,lat\n{rows}".encode(), filename="up.csv").sites


@pytest.fixture()
def sites_dir(tmp_path) -> Path:
    target = tmp_path / "sites"
    target.mkdir()
    shutil.copy(SITES_DIR / "ecommerce.csv", target / "ecommerce.csv")
    return target


def test_save_keeps_the_previous_version_and_undo_restores_it(sites_dir):
    original = (sites_dir / "ecommerce.csv").read_bytes()
    path = save_registry("ecommerce", _sites(3, "新"), directory=sites_dir)
    assert path == sites_dir / "ecommerce.csv"
    assert read_sites(path, layer="ecommerce").sites["name"].tolist() == ["新站0", "新站1", "新站2"]
    versions = history("ecommerce", directory=sites_dir)
    assert len(versions) == 1 and versions[0].read_bytes() == original
    assert versions[0].parent.name == "history"

    save_registry("ecommerce", _sites(1, "再"), directory=sites_dir)
    assert len(history("ecommerce", directory=sites_dir)) == 2
    undo_last("ecommerce", directory=sites_dir)
    assert read_sites(path).sites["name"].tolist() == ["新站0", "新站1", "新站2"]
    undo_last("ecommerce", directory=sites_dir)
    assert path.read_bytes() == original
    with pytest.raises(InputError, match="No earlier version"):
        undo_last("ecommerce", directory=sites_dir)
    assert len(list((sites_dir / "history").glob("*.undone.csv"))) == 2  # nothing thrown away


def test_saved_registry_reads_back_to_the_same_sites(sites_dir):
    sites = _sites(5, "回")
    save_registry("ecommerce", sites, directory=sites_dir)
    back = read_sites(sites_dir / "ecommerce.csv", layer="ecommerce").sites
    cols = ["name", "layer", "county", "lon", "lat"]
    pd.testing.assert_frame_equal(back[cols], sites[cols], check_exact=False, atol=1e-9)


def test_bad_uploads_are_refused_and_nothing_is_written(sites_dir):
    before = (sites_dir / "ecommerce.csv").read_bytes()
    bad = b"name,layer,county\n,ecommerce,x\n"
    with pytest.raises(InputError, match="rejected; nothing was saved"):
        save_registry("ecommerce", bad, directory=sites_dir, filename="bad.csv")
    with pytest.raises(InputError, match="other layers"):
        save_registry("ecommerce", _sites(1, "x").assign(layer="park"), directory=sites_dir)
    with pytest.raises(InputError, match="No sites"):
        save_registry("ecommerce", _sites(1, "x").iloc[0:0], directory=sites_dir)
    with pytest.raises(InputError, match="Unknown layer"):
        save_registry("rocket", _sites(1, "x"), directory=sites_dir)
    assert (sites_dir / "ecommerce.csv").read_bytes() == before
    assert history("ecommerce", directory=sites_dir) == []
    assert not list(sites_dir.glob("*.tmp"))


def test_good_bytes_are_saved(sites_dir):
    data = "名称,类型,县区\n甲站,村级服务站,城北区\n".encode("gbk")
    save_registry("ecommerce", data, directory=sites_dir, filename="mine.csv")
    assert read_sites(sites_dir / "ecommerce.csv").sites["subtype"].tolist() == ["village_station"]


def _writer(directory: str, tag: str, n: int) -> None:
    frame = _sites(40, tag)
    for _ in range(n):
        save_registry("ecommerce", frame, directory=Path(directory))


def test_concurrent_saves_never_mix(sites_dir):
    """Two processes saving different registries at once: the file is always one of them."""
    expected = {registry_csv(_sites(40, tag)) for tag in ("甲", "乙")}
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(sites_dir), t, 15)) for t in ("甲", "乙")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    assert (sites_dir / "ecommerce.csv").read_bytes() in expected
    versions = history("ecommerce", directory=sites_dir)
    assert len(versions) == 30  # every save kept the one before it
    original = (SITES_DIR / "ecommerce.csv").read_bytes()
    assert all(v.read_bytes() in expected | {original} for v in versions)
    assert not list(sites_dir.glob("*.tmp"))
