"""Making an upload the default registry: versioned, conflict-safe, the same on both backends,
and the same through the dashboard's "save as default" button."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from base.errors import InputError
from geo.backends import ConflictError
from geo.backends.saving import restore_version, save_layers, undo_last
from layers.registry import read_sites
from tests.conftest import _embedded, _fresh

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.both_stores,
]


def _upload_csv(tag: str, n: int = 3, *, layer: str = "ecommerce") -> bytes:
    rows = "".join(f"{tag}站{i},{layer},城北区,{101.70 + i / 1000:.6f},36.65\n" for i in range(n))
    return f"name,layer,county,lon,lat\n{rows}".encode()


def _upload(tag: str, n: int = 3, *, layer: str = "ecommerce") -> pd.DataFrame:
    return read_sites(_upload_csv(tag, n, layer=layer), filename="mine.csv").sites


def test_saving_an_upload_makes_a_new_version_of_each_of_its_layers(writable):
    base = writable.registry_versions()
    park = _upload("园", 2, layer="park").assign(subtype="")
    both = pd.concat([_upload("新"), park], ignore_index=True)
    outcomes = save_layers(writable, both, base_versions=base, saved_by="王工", message="m")
    assert [(o.layer, o.rows, o.version, o.previous) for o in outcomes] == [
        ("park", 2, base["park"] + 1, base["park"]),
        ("ecommerce", 3, base["ecommerce"] + 1, base["ecommerce"]),
    ]
    now = writable.load_registry("ecommerce")
    assert now.sites["name"].tolist() == ["新站0", "新站1", "新站2"]
    assert now.saved_by == "王工"
    assert writable.registry_versions()["ecommerce"] == base["ecommerce"] + 1
    # the version it replaced stays readable, in full
    old = writable.load_registry("ecommerce", version=base["ecommerce"]).sites
    assert len(old) > 3 and "新站0" not in set(old["name"])
    # saving the same rows again is no new version
    again = save_layers(writable, _upload("新"), base_versions=writable.registry_versions())
    assert (again[0].version, again[0].previous) == (now.version, now.version)


def test_a_colleagues_save_in_between_is_never_overwritten(writable):
    base = writable.registry_versions()
    save_layers(writable, _upload("甲"), base_versions=base, saved_by="张工")
    [late] = save_layers(writable, _upload("乙"), base_versions=base, saved_by="李工")
    assert not late.saved and isinstance(late.conflict, ConflictError)
    assert late.conflict.saved_by == "张工" and late.conflict.current == base["ecommerce"] + 1
    assert "Nothing was saved" in late.error
    assert writable.load_registry("ecommerce").sites["name"].iloc[0] == "甲站0"
    assert (writable.history("ecommerce")["saved_by"] == "李工").sum() == 0


def test_bad_saves_are_refused_and_change_nothing(writable):
    base = writable.registry_versions()
    before = writable.load_registry("ecommerce").sites
    with pytest.raises(InputError, match="No accepted rows"):
        save_layers(writable, _upload("x").iloc[0:0], base_versions=base)
    nameless = _upload("x")
    nameless.loc[1, "name"] = " "
    [out] = save_layers(writable, nameless, base_versions=base)
    assert not out.saved and "no name" in out.error
    [blind] = save_layers(writable, _upload("x"), base_versions={})
    assert not blind.saved and "No loaded version" in blind.error
    assert writable.registry_versions() == base
    pd.testing.assert_frame_equal(writable.load_registry("ecommerce").sites, before)


def test_a_saved_registry_reads_back_exactly_and_exports_without_a_formula(tmp_path):
    store = _embedded(tmp_path)
    sites = _upload("回", 4)
    sites.loc[0, "name"] = '=HYPERLINK("http://x")'
    sites.loc[1, "lon"] = 101.7000000001234  # every digit is kept
    save_layers(store, sites, base_versions=store.registry_versions())
    back = store.load_registry("ecommerce").sites
    cols = ["name", "layer", "county", "lon", "lat"]
    pd.testing.assert_frame_equal(back[cols], sites[cols], check_exact=True)
    store.export(tmp_path / "out")
    raw = (tmp_path / "out" / "sites" / "ecommerce.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, as Excel in China expects
    assert b"'=HYPERLINK" in raw  # neutralised for spreadsheets
    again = read_sites(tmp_path / "out" / "sites" / "ecommerce.csv").sites
    pd.testing.assert_frame_equal(again[cols], sites[cols], check_exact=True)


def test_a_bad_upload_can_be_undone_and_nothing_is_ever_deleted(writable):
    original = writable.load_registry("ecommerce")
    base = writable.registry_versions()
    save_layers(writable, _upload("坏", 2), base_versions=base, saved_by="张工")
    out = undo_last(writable, "ecommerce", saved_by="张工")
    assert (out.version, out.previous) == (original.version + 2, original.version + 1)
    back = writable.load_registry("ecommerce").sites
    cols = ["name", "county", "lon", "lat", "is_sample"]
    pd.testing.assert_frame_equal(back[cols], original.sites[cols])
    # the undone upload is still there, and can be brought back
    assert writable.load_registry("ecommerce", version=original.version + 1).sites[
        "name"
    ].tolist() == ["坏站0", "坏站1"]
    last = writable.history("ecommerce").iloc[-1]
    assert last["message"] == f"restored version {original.version}"
    again = restore_version(writable, "ecommerce", original.version + 1)
    assert again.saved and writable.load_registry("ecommerce").sites["name"].iloc[0] == "坏站0"


def test_undo_never_reverts_a_colleagues_save_blindly(writable):
    shown = writable.registry_versions()["ecommerce"]
    save_layers(writable, _upload("甲"), base_versions={"ecommerce": shown}, saved_by="张工")
    stale = undo_last(writable, "ecommerce", expected_version=shown)
    assert not stale.saved and stale.conflict.saved_by == "张工"
    assert writable.load_registry("ecommerce").sites["name"].iloc[0] == "甲站0"


def test_nothing_to_undo_on_a_layer_never_saved(tmp_path):
    store = _embedded(tmp_path)
    assert store.registry_versions()["park"] == 1  # the shipped files
    with pytest.raises(InputError, match="no earlier version"):
        undo_last(store, "park")
    assert not store.path.exists()  # reading never creates the store


def _run_db(*args: str, data_dir: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XINING_DATABASE")}
    env["PYTHONPATH"] = str(ROOT)
    env["XINING_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "geo.db", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_command_line_status_history_undo_restore_export_on_the_embedded_store(tmp_path):
    store = _embedded(tmp_path)
    first = store.registry_versions()["incubator"]
    save_layers(store, _upload("新", 2, layer="incubator"), base_versions={"incubator": first})
    where = {"data_dir": store.path.parent}
    status = _run_db("status", **where)
    assert status.returncode == 0 and f"incubator\tversion {first + 1}\t2 rows" in status.stdout
    undo = _run_db("undo", "incubator", "--by", "王工", **where)
    assert undo.returncode == 0, undo.stderr
    assert f"version {first + 2}" in undo.stderr
    history = _run_db("history", "incubator", **where)
    assert "王工" in history.stdout and f"restored version {first}" in history.stdout
    restore = _run_db("restore", "incubator", str(first + 1), **where)
    assert restore.returncode == 0 and store.load_registry("incubator").sites["name"].tolist() == [
        "新站0",
        "新站1",
    ]
    missing = _run_db("restore", "incubator", "99", **where)
    assert missing.returncode == 2 and "no saved version 99" in missing.stderr
    # the store written back in the bundled layout reads as the same registries
    out = tmp_path / "export"
    export = _run_db("export", "-o", str(out), **where)
    assert export.returncode == 0, export.stderr
    assert read_sites(out / "sites" / "incubators.csv").sites["name"].tolist() == ["新站0", "新站1"]
    assert (out / "boundaries" / "counties.geojson").exists()
    assert (out / "plan" / "targets.csv").exists()


# -- through the dashboard ------------------------------------------------------------------


@pytest.fixture(params=["embedded", "postgis"])
def app_backend(request, tmp_path, monkeypatch):
    """The app reading and saving through a throwaway store of each kind, selected by the
    settings as in a deployment: an embedded store in a data directory of its own
    (``XINING_DATA_DIR``), or a PostGIS schema of its own loaded with the bundled data (URL)."""

    if request.param == "embedded":
        store = _embedded(tmp_path)
        monkeypatch.delenv("XINING_DATABASE_URL", raising=False)
        monkeypatch.setenv("XINING_DATA_DIR", str(store.path.parent))
    else:
        store = _fresh(request.getfixturevalue("pg_url"))
        monkeypatch.setenv("XINING_DATABASE_URL", store.url)
        monkeypatch.setenv("XINING_DATABASE_SCHEMA", store.schema)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield store
    st.cache_data.clear()
    st.cache_resource.clear()
    if request.param == "postgis":
        store.drop()


def _app_with_upload(data: bytes) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.file_uploader(key="upload_sites").upload("mine.csv", data, "text/csv")
    at.run()
    assert not at.exception, at.exception
    return at


def test_dashboard_save_and_a_colleagues_conflict(app_backend):
    backend = app_backend
    start = backend.registry_versions()["ecommerce"]
    at = _app_with_upload(_upload_csv("甲"))
    at.text_input(key="saved_by").input("张工")
    at.button(key="save_upload").click().run()
    assert not at.exception, at.exception
    assert any(f"第 {start + 1} 版" in s.value for s in at.sidebar.success)
    assert backend.load_registry("ecommerce").saved_by == "张工"

    # a second planner checks a file against that version; a colleague saves before they do
    other = _app_with_upload(_upload_csv("乙"))
    [colleague] = save_layers(
        backend, _upload("丙"), base_versions=backend.registry_versions(), saved_by="[李工](x)"
    )
    assert colleague.saved
    other.button(key="save_upload").click().run()
    [error] = [e.value for e in other.sidebar.error]
    assert "未保存" in error and f"第 {start + 2} 版" in error
    assert r"\[李工\]\(x\)" in error  # an uploaded name is text, never a link
    assert backend.load_registry("ecommerce").sites["name"].iloc[0] == "丙站0"
    # they choose to check against the latest version; then the save goes through
    other.button(key="reload_versions").click().run()
    other.button(key="save_upload").click().run()
    assert any(f"第 {start + 3} 版" in s.value for s in other.sidebar.success)
    assert backend.load_registry("ecommerce").sites["name"].iloc[0] == "乙站0"


def test_dashboard_undo_of_the_latest_save(app_backend):
    backend = app_backend
    before = backend.load_registry("park")
    at = _app_with_upload(_upload_csv("错", 2, layer="park"))
    at.button(key="save_upload").click().run()
    assert backend.load_registry("park").sites["name"].tolist() == ["错站0", "错站1"]
    at.selectbox(key="history_layer").select("park").run()
    at.button(key="undo_save").click().run()
    assert not at.exception, at.exception
    assert any(f"第 {before.version} 版的内容" in s.value for s in at.sidebar.success)
    names = backend.load_registry("park").sites["name"].tolist()
    assert names == before.sites["name"].tolist()
    at.run()
    [table] = [d.value for d in at.sidebar.dataframe if "版本" in d.value.columns]
    assert table["版本"].tolist()[:3] == [before.version + 2, before.version + 1, before.version]
    assert table["说明"].iloc[0] == f"restored version {before.version}"


def test_undo_twice_steps_back_two_saves(writable):
    original = writable.load_registry("ecommerce")
    base = original.version
    save_layers(writable, _upload("一", 2), base_versions={"ecommerce": base})
    save_layers(writable, _upload("二", 2), base_versions={"ecommerce": base + 1})
    first = undo_last(writable, "ecommerce")
    assert first.restored == base + 1
    assert writable.load_registry("ecommerce").sites["name"].tolist() == ["一站0", "一站1"]
    second = undo_last(writable, "ecommerce")
    assert second.restored == base
    names = writable.load_registry("ecommerce").sites["name"].tolist()
    assert names == original.sites["name"].tolist()
