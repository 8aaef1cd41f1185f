"""The embedded store under bad luck: a process killed at every step of a save, a full disk, a
damaged or torn file, two processes saving at once, and the old file store migrated once.

After each fault: every acknowledged save is present and whole, no unacknowledged save is
visible, the next save works, and the registries still read (the dashboard draws: AppTest)."""

from __future__ import annotations

import errno
import json
import multiprocessing as mp
import os
import shutil
import signal
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from base.errors import StoreError
from geo.backends._registry import records
from geo.backends.embedded import EmbeddedBackend, StoreDamaged
from geo.backends.files import BundledFiles
from geo.backends.postgis import PostGISBackend
from geo.backends.saving import save_layers
from layers.registry import read_sites
from tests.conftest import _embedded, _fresh

ROOT = Path(__file__).resolve().parents[1]
LAYER = "ecommerce"

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.both_stores]


def _rows(tag: str, n: int = 4) -> pd.DataFrame:
    lines = "".join(f"{tag}站{i},{LAYER},城北区,{101.70 + i / 1000:.6f},36.65\n" for i in range(n))
    data = f"name,layer,county,lon,lat\n{lines}".encode()
    return read_sites(data, filename=f"{tag}.csv").sites


def _names(store, version: int | None = None) -> list[str]:
    return store.load_registry(LAYER, version=version).sites["name"].tolist()


def _save(store, tag: str, *, n: int = 4) -> int:
    base = store.registry_versions()
    [out] = save_layers(store, _rows(tag, n), base_versions=base, saved_by=tag)
    assert out.saved, out.error
    return out.version


# -- a process killed at every step of a save ---------------------------------------------------


def _save_and_die_at(path: str, tag: str, kill_at: int, ack: str) -> None:
    """In a forked child: count the SQL statements SQLite runs and SIGKILL this process just
    before statement ``kill_at`` (0: never); once the save has returned, write to ``ack`` the
    version and the statements run."""
    seen: list[str] = []
    connect = sqlite3.connect

    def traced(*args, **kwargs):
        conn = connect(*args, **kwargs)

        def step(sql: str) -> None:
            seen.append(" ".join(sql.split())[:40])
            if len(seen) == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

        conn.set_trace_callback(step)
        return conn

    sqlite3.connect = traced
    store = EmbeddedBackend(Path(path))
    version = _save(store, tag)
    Path(ack).write_text(json.dumps({"version": version, "statements": seen}))


def _run_child(path: Path, tag: str, kill_at: int, ack: Path) -> int:
    ack.unlink(missing_ok=True)
    proc = mp.get_context("fork").Process(
        target=_save_and_die_at, args=(str(path), tag, kill_at, str(ack))
    )
    proc.start()
    proc.join(timeout=60)
    return proc.exitcode


def _kill_points(statements: list[str]) -> list[int]:
    """Every step of a save: each statement, except that of a run of the same statement (one
    per row) only the first two and the last are taken (1-based)."""
    points = []
    for i, sql in enumerate(statements):
        before = statements[i - 1] if i else None
        after = statements[i + 1] if i + 1 < len(statements) else None
        second = i >= 1 and before == sql and (i < 2 or statements[i - 2] != sql)
        if sql != before or sql != after or second:
            points.append(i + 1)
    return points


@pytest.mark.parametrize("first_save", [True, False], ids=["creating-the-store", "later-save"])
def test_a_save_killed_at_any_statement_is_all_or_nothing(tmp_path, first_save):
    template = tmp_path / "template" / "xining.sqlite"
    store = EmbeddedBackend(template)
    shipped = _names(store)
    if not first_save:
        _save(store, "甲")
    before_version = store.registry_versions()[LAYER]
    before = _names(store)
    # how many statements a whole save runs (the run that is never killed)
    work = tmp_path / "work"
    shutil.copytree(template.parent, work) if template.exists() else work.mkdir()
    ack = tmp_path / "ack"
    assert _run_child(work / "xining.sqlite", "乙", 0, ack) == 0
    statements = json.loads(ack.read_text())["statements"]
    assert statements[-1] == "COMMIT"
    points = _kill_points(statements)
    assert len(points) >= 12 and points[-1] == len(statements)
    for kill_at in points:
        shutil.rmtree(work)
        shutil.copytree(template.parent, work) if template.exists() else work.mkdir()
        code = _run_child(work / "xining.sqlite", "乙", kill_at, ack)
        assert code == -signal.SIGKILL, (kill_at, code)
        assert not ack.exists()  # killed before the save returned: unacknowledged
        after = EmbeddedBackend(work / "xining.sqlite")
        # the unacknowledged save is invisible; the acknowledged one before it is whole
        assert after.registry_versions()[LAYER] == before_version, kill_at
        assert _names(after) == before, kill_at
        if not first_save:
            assert _names(after, version=before_version - 1) == shipped
            assert after.history(LAYER)["saved_by"].tolist()[-1] == "甲"
        # and the next save works, as a whole new version
        assert _save(after, "丙") == before_version + 1
        assert _names(after) == [f"丙站{i}" for i in range(4)]
        assert after.history(LAYER)["version"].tolist()[-1] == before_version + 1


def test_a_save_acknowledged_is_on_disk_even_if_the_process_dies_right_after(tmp_path):
    path = tmp_path / "xining.sqlite"
    ack = tmp_path / "ack"
    assert _run_child(path, "甲", 0, ack) == 0
    version = json.loads(ack.read_text())["version"]
    store = EmbeddedBackend(path)
    assert store.registry_versions()[LAYER] == version and _names(store)[0] == "甲站0"


# -- a full disk --------------------------------------------------------------------------------


def test_a_full_disk_refuses_the_save_in_one_sentence_and_leaves_the_store_as_it_was(
    tmp_path, monkeypatch
):
    store = _embedded(tmp_path)
    _save(store, "甲", n=3)
    version = store.registry_versions()[LAYER]
    connect = sqlite3.connect

    def small_disk(*args, **kwargs):
        """The file may not grow any more: SQLite reports SQLITE_FULL, as on a full disk."""
        conn = connect(*args, **kwargs)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn

    monkeypatch.setattr(sqlite3, "connect", small_disk)
    big = _rows("乙" * 400, 300)  # long names: the rows need pages the file does not have
    [out] = save_layers(store, big, base_versions=store.registry_versions(), saved_by="乙")
    assert not out.saved
    assert isinstance(out.reason, StoreError)
    assert out.reason.text("zh").startswith("数据存储所在的磁盘") and "没有保存" in out.reason.zh
    assert "is full: nothing was saved" in out.reason.text("en")
    monkeypatch.setattr(sqlite3, "connect", connect)
    assert store.registry_versions()[LAYER] == version
    assert _names(store) == ["甲站0", "甲站1", "甲站2"]
    assert not list(tmp_path.rglob("*.part"))
    assert _save(store, "丙") == version + 1


def test_no_space_left_for_a_new_store_is_the_full_disk_sentence(tmp_path, monkeypatch):
    def no_space(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "mkdir", no_space)
    store = EmbeddedBackend(tmp_path / "new" / "xining.sqlite")
    [out] = save_layers(store, _rows("甲"), base_versions={LAYER: 1})
    assert not out.saved and "磁盘" in out.reason.text("zh") and "已满" in out.reason.text("zh")
    monkeypatch.undo()
    assert store.registry_versions()[LAYER] == 1 and not store.path.exists()


def test_a_store_directory_that_cannot_be_made_is_one_sentence(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data directory should be")
    store = EmbeddedBackend(blocker / "xining.sqlite")
    with pytest.raises(StoreError) as caught:
        store.save_registry(LAYER, _rows("甲"), expected_version=1)
    assert "cannot be written" in str(caught.value) and "无法写入" in caught.value.text("zh")


# -- damaged and torn files ---------------------------------------------------------------------


def test_a_torn_write_of_an_unacknowledged_save_drops_only_that_save(tmp_path):
    """Truncate the write-ahead log inside the last save's frames (a crash while it was being
    written): the two acknowledged saves before it stay, whole."""
    store = _embedded(tmp_path)
    _save(store, "甲")
    _save(store, "乙")
    wal = Path(f"{store.path}-wal")
    keep = sqlite3.connect(store.path)  # an open reader keeps the log from being checkpointed
    keep.execute("BEGIN")
    keep.execute("SELECT count(*) FROM sites").fetchone()
    acknowledged = wal.stat().st_size
    _save(store, "丙")
    torn = acknowledged + (wal.stat().st_size - acknowledged) // 2
    shutil.copy(store.path, tmp_path / "copy.sqlite")
    with wal.open("rb") as src:
        Path(tmp_path / "copy.sqlite-wal").write_bytes(src.read(torn))
    keep.close()
    copy = EmbeddedBackend(tmp_path / "copy.sqlite")
    assert _names(copy) == [f"乙站{i}" for i in range(4)]
    assert copy.history(LAYER)["saved_by"].tolist()[-2:] == ["甲", "乙"]
    assert _save(copy, "丁") == copy.history(LAYER)["version"].max()


@pytest.mark.parametrize("damage", ["garbage-header", "truncated", "not-sqlite"])
def test_a_damaged_store_is_set_aside_and_the_registries_still_read(tmp_path, damage):
    store = _embedded(tmp_path)
    shipped = _names(store)
    for i in range(3):
        _save(store, f"甲{i}", n=200)
    with sqlite3.connect(store.path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = store.path.read_bytes()
    if damage == "garbage-header":
        data = b"\x00garbage" * 20 + data[160:]
    elif damage == "truncated":
        data = data[: len(data) // 3]
    else:
        data = "version,saved_by\n1,甲\n".encode()
    store.path.write_bytes(data)
    reopened = EmbeddedBackend(store.path)
    with pytest.raises(StoreDamaged) as caught:
        for layer in ("park", "incubator", "poverty_demo", LAYER):
            reopened.load_registry(layer)  # a truncated file may read its first pages
        reopened.history(LAYER)
    message = caught.value
    assert "已损坏" in message.text("zh") and "damaged" in str(message)
    assert message.kept.read_bytes() == data  # set aside, not deleted: kept for recovery
    assert not store.path.exists()
    # the registries read (the bundled ones), and the next save starts a new store
    assert _names(reopened) == shipped
    assert _save(reopened, "乙") == 2
    assert _names(reopened) == [f"乙站{i}" for i in range(4)]


def test_the_dashboard_draws_with_a_damaged_store_and_says_so(tmp_path, monkeypatch):
    store = _embedded(tmp_path)
    _save(store, "甲")
    store.path.write_bytes(b"\x00" * 4096)
    Path(f"{store.path}-wal").unlink(missing_ok=True)
    monkeypatch.delenv("XINING_DATABASE_URL", raising=False)
    monkeypatch.setenv("XINING_DATA_DIR", str(store.path.parent))
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert any("已损坏" in e and "已另存为" in e for e in errors), errors
    assert len(at.get("component_instance")) == 1  # the map is drawn, from the bundled files
    assert list(store.path.parent.glob("xining.sqlite.damaged-*"))
    at.run()  # the next run draws again, and still says what happened to the store
    assert not at.exception and len(at.get("component_instance")) == 1
    assert any("已另存为" in e.value for e in at.error)
    st.cache_data.clear()


# -- two processes saving at once ---------------------------------------------------------------


def _writer(target: dict, tag: str, saves: int) -> None:
    """One planner saving ``saves`` times, reloading after each refusal (as the app says to)."""
    store = _open(target)
    done = 0
    while done < saves:
        rows = _rows(f"{tag}{done}", 3)
        [out] = save_layers(store, rows, base_versions=store.registry_versions(), saved_by=tag)
        done += out.saved


def _open(target: dict):
    if target["kind"] == "embedded":
        return EmbeddedBackend(Path(target["path"]))
    return PostGISBackend(target["url"], schema=target["schema"])


def _two_writers(target: dict, saves: int) -> None:
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(target, t, saves)) for t in ("甲", "乙")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=600)
        assert p.exitcode == 0


def _whole_histories(store, start: int, saves: int) -> None:
    history = store.history(LAYER)
    new = history[history["version"] > start]
    assert new["version"].tolist() == list(range(start + 1, start + 2 * saves + 1))
    assert sorted(new["saved_by"].value_counts().tolist()) == [saves, saves]
    for version in new["version"]:  # each is whole: 3 rows of one planner's one save
        names = pd.Series(_names(store, int(version)))
        assert len(names) == 3 and names.str[:2].nunique() == 1, version


SAVES = 200


def test_two_processes_200_saves_each_on_the_embedded_store_lose_nothing(tmp_path):
    path = tmp_path / "xining.sqlite"
    _two_writers({"kind": "embedded", "path": str(path)}, SAVES)
    _whole_histories(EmbeddedBackend(path), 1, SAVES)


@pytest.mark.both_stores
def test_two_processes_200_saves_each_on_postgis_lose_nothing(pg_url):
    db = _fresh(pg_url, parts=("registries",))
    try:
        start = db.registry_versions()[LAYER]
        _two_writers({"kind": "postgis", "url": db.url, "schema": db.schema}, SAVES)
        _whole_histories(db, start, SAVES)
    finally:
        db.drop()


# -- the file store of earlier releases --------------------------------------------------------


def _old_file_store(sites: Path) -> None:
    """What the lock/log/CSV store left behind: two saves of ecommerce, the log's last line cut
    off, and a third save whose head was never written (unacknowledged)."""
    hist = sites / ".history" / LAYER
    hist.mkdir(parents=True)
    (sites / ".versions").mkdir()
    rows = {v: [dict(r) for r in _records(f"旧{v}")] for v in (1, 2, 3)}
    for v, content in rows.items():
        (hist / f"v{v}.json").write_text(json.dumps(content, ensure_ascii=False))
    log = [
        {"version": 1, "saved_at": None, "saved_by": "", "n_rows": 4, "message": "as found"},
        {
            "version": 2,
            "saved_at": "2025-05-01T02:00:00+00:00",
            "saved_by": "王工",
            "n_rows": 4,
            "message": "m",
        },
    ]
    text = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in log)
    (hist / "log.jsonl").write_text(text + '{"version": 3, "saved_at": "2025-05-0')
    head = {"version": 2, "saved_at": "2025-05-01T02:00:00+00:00", "saved_by": "王工"}
    (sites / ".versions" / f"{LAYER}.json").write_text(json.dumps(head))


def _records(tag: str) -> list[dict]:
    return records(_rows(tag))


def test_the_old_file_store_is_migrated_once_with_a_message(tmp_path):
    sites = tmp_path / "sites"
    shutil.copytree(ROOT / "data" / "sites", sites, ignore=shutil.ignore_patterns(".*"))
    _old_file_store(sites)
    store = EmbeddedBackend(tmp_path / "var" / "xining.sqlite", seed=BundledFiles(sites_dir=sites))
    # the first use migrates: the old head (version 2) is current, not the shipped files
    assert store.registry_versions()[LAYER] == 2
    [notice] = store.notices
    assert "2 个保存版本" in notice.text("zh") and "2 saved versions" in notice.text("en")
    history = store.history(LAYER)
    assert history["version"].tolist() == [1, 2]  # version 3 was never acknowledged
    assert history["saved_by"].tolist() == ["", "王工"]
    assert _names(store, 2) == [f"旧2站{i}" for i in range(4)]
    assert _names(store, 1) == [f"旧1站{i}" for i in range(4)]
    assert _save(store, "新") == 3  # and the next save goes on top of it
    assert store.history(LAYER)["saved_by"].tolist() == ["", "王工", "新"]
    assert not (sites / ".history").exists() and (sites / ".history.migrated").is_dir()
    again = EmbeddedBackend(store.path, seed=BundledFiles(sites_dir=sites))
    assert _save(again, "再") == 4 and again.notices == []


@pytest.mark.parametrize(
    "oddity", ["a-dict", "no-extra", "text-longitude", "empty-name", "two-files-of-v2", "bad-head"]
)
def test_odd_files_of_the_old_store_never_stop_the_product(tmp_path, oddity):
    """What a reviewer put in an old .history: the odd version is skipped (or the layer is left
    to its shipped files), the store works, and the old folders are retired."""
    sites = tmp_path / "sites"
    shutil.copytree(ROOT / "data" / "sites", sites, ignore=shutil.ignore_patterns(".*"))
    _old_file_store(sites)
    hist = sites / ".history" / LAYER
    v2 = json.loads((hist / "v2.json").read_text())
    if oddity == "a-dict":
        (hist / "v2.json").write_text(json.dumps({"rows": v2}))
    elif oddity == "no-extra":
        (hist / "v2.json").write_text(
            json.dumps([{k: v for k, v in r.items() if k != "extra"} for r in v2])
        )
    elif oddity == "text-longitude":
        (hist / "v2.json").write_text(json.dumps([{**r, "lon": "abc"} for r in v2]))
    elif oddity == "empty-name":
        (hist / "v2.json").write_text(json.dumps([{**r, "name": ""} for r in v2]))
    elif oddity == "two-files-of-v2":
        (hist / "v02.json").write_text((hist / "v2.json").read_text())
    else:
        (sites / ".versions" / f"{LAYER}.json").write_text("{not json")
    store = EmbeddedBackend(tmp_path / "var" / "xining.sqlite", seed=BundledFiles(sites_dir=sites))
    versions = store.registry_versions()  # no traceback, no store error
    assert versions[LAYER] >= 1
    assert _save(store, "新") == versions[LAYER] + 1
    assert not (sites / ".versions").exists() and (sites / ".versions.migrated").is_dir()
    again = EmbeddedBackend(store.path, seed=BundledFiles(sites_dir=sites))
    assert again.registry_versions()[LAYER] == versions[LAYER] + 1
