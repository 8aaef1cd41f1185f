"""The embedded store: one SQLite database file, transactional, with the PostGIS store's tables.

No server and no configuration: the file lives in ``$XINING_DATA_DIR`` (default ``var/`` in the
checkout) as ``xining.sqlite`` and is made on the first save. Until a layer is first saved, its
registry is the bundled files (:class:`~geo.backends.files.BundledFiles`, version 1); boundaries and
plan tables are always read from there.

Versions work as in PostGIS (:mod:`geo.backends.postgis`): ``registry_heads`` holds each layer's
current version, ``registry_versions`` one row per save (who, when, rows added and removed), and
``sites`` every row with the versions it was valid in (``valid_from``/``valid_to``), so history
and undo are rows. A save is one ``BEGIN IMMEDIATE`` transaction in WAL mode with
``synchronous=FULL``: a crash, a full disk or a killed process leaves either the whole save or
none of it, and a save acknowledged (returned) is on disk. A damaged file is set aside, never
deleted, and the store starts again from the bundled files (:class:`StoreDamaged` says where it
went). The lock/log/CSV store of earlier releases (``data/sites/.history``) is migrated once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from base.errors import InputError, StoreError
from base.settings import ROOT
from geo.attainment import Plan
from geo.backends._figures import (
    ACTUALS,
    SEED_FILE,
    STORED_COLUMNS,
    FiguresLoad,
    entry,
    figure_hash,
    figure_rows,
    figures_csv_frame,
    figures_frame,
    seed_figures,
)
from geo.backends._registry import (
    TEXT_COLUMNS,
    as_read,
    check_frame,
    frame_from_records,
    published,
    records,
    row_hash,
)
from geo.backends.files import BundledFiles, registry_csv
from geo.backends.store import HISTORY_COLUMNS, RegistryLoad, require_version
from geo.boundaries import Units
from geo.export import to_csv
from layers.registry import SiteLoad, combine
from layers.schema import LAYERS

DATA_DIR_ENV = "XINING_DATA_DIR"
DEFAULT_DATA_DIR = ROOT / "var"
STORE_FILE = "xining.sqlite"
SCHEMA_VERSION = 1
LOG = logging.getLogger(__name__)
BUSY_TIMEOUT_S = 30.0  # how long a save waits for a colleague's save to finish

SITE_TEXT = [c for c in TEXT_COLUMNS if c != "layer"]  # ``layer`` keys the table itself
SITE_COLUMNS = [*SITE_TEXT, "lon", "lat", "year", "is_sample", "source_file", "source_row"]
_LAYER_LIST = ", ".join(f"'{k}'" for k in LAYERS)

DDL = [
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS registry_heads (\n"
    f"  layer TEXT PRIMARY KEY CHECK (layer IN ({_LAYER_LIST})),\n"
    "  version INTEGER NOT NULL, saved_at TEXT, saved_by TEXT NOT NULL DEFAULT '')",
    "CREATE TABLE IF NOT EXISTS registry_versions (\n"
    "  layer TEXT NOT NULL REFERENCES registry_heads(layer), version INTEGER NOT NULL,\n"
    "  saved_at TEXT, saved_by TEXT NOT NULL DEFAULT '',\n"
    "  n_rows INTEGER NOT NULL, n_added INTEGER NOT NULL, n_removed INTEGER NOT NULL,\n"
    "  message TEXT NOT NULL DEFAULT '', PRIMARY KEY (layer, version))",
    "CREATE TABLE IF NOT EXISTS sites (\n"
    "  uid INTEGER PRIMARY KEY, layer TEXT NOT NULL REFERENCES registry_heads(layer),\n"
    "  ord INTEGER NOT NULL, row_hash TEXT NOT NULL, valid_from INTEGER NOT NULL,\n"
    "  valid_to INTEGER CHECK (valid_to IS NULL OR valid_to > valid_from),\n"
    + "".join(f"  \"{c}\" TEXT NOT NULL DEFAULT '',\n" for c in SITE_TEXT)
    + "  lon REAL, lat REAL, year INTEGER, is_sample INTEGER NOT NULL DEFAULT 0,\n"
    "  source_file TEXT NOT NULL DEFAULT '', source_row INTEGER,\n"
    "  extra TEXT NOT NULL DEFAULT '{}', wgs84_lon REAL, wgs84_lat REAL,\n"
    "  CHECK (name <> ''))",
    "CREATE INDEX IF NOT EXISTS sites_current_idx ON sites (layer, ord) WHERE valid_to IS NULL",
    "CREATE UNIQUE INDEX IF NOT EXISTS sites_current_hash_idx ON sites (layer, row_hash) "
    "WHERE valid_to IS NULL",
    "CREATE INDEX IF NOT EXISTS sites_versions_idx ON sites (layer, valid_from, valid_to)",
    # reported figures, versioned the same way (geo.backends._figures)
    "CREATE TABLE IF NOT EXISTS actuals_heads (\n"
    "  name TEXT PRIMARY KEY CHECK (name = 'actuals'), version INTEGER NOT NULL,\n"
    "  saved_at TEXT, saved_by TEXT NOT NULL DEFAULT '')",
    "CREATE TABLE IF NOT EXISTS actuals_versions (\n"
    "  version INTEGER PRIMARY KEY, saved_at TEXT, saved_by TEXT NOT NULL DEFAULT '',\n"
    "  n_rows INTEGER NOT NULL, n_added INTEGER NOT NULL, n_removed INTEGER NOT NULL,\n"
    "  message TEXT NOT NULL DEFAULT '')",
    "CREATE TABLE IF NOT EXISTS actuals (\n"
    "  uid INTEGER PRIMARY KEY, row_hash TEXT NOT NULL, valid_from INTEGER NOT NULL,\n"
    "  valid_to INTEGER CHECK (valid_to IS NULL OR valid_to > valid_from),\n"
    "  target_id TEXT NOT NULL, period INTEGER NOT NULL, scope_code TEXT NOT NULL,\n"
    "  value REAL NOT NULL, source TEXT NOT NULL DEFAULT '', note TEXT NOT NULL DEFAULT '',\n"
    "  entered_by TEXT NOT NULL DEFAULT '', entered_at TEXT NOT NULL DEFAULT '')",
    "CREATE UNIQUE INDEX IF NOT EXISTS actuals_current_idx ON actuals "
    "(target_id, scope_code, period) WHERE valid_to IS NULL",
    "CREATE INDEX IF NOT EXISTS actuals_versions_idx ON actuals (valid_from, valid_to)",
]

# files already checked with PRAGMA quick_check in this process, by path and status (inode, size,
# modification and change times: a file copied or restored in its place is checked again)
_CHECKED: set[tuple[str, int, int, int, int]] = set()

# SQLite's primary result codes a user can meet (https://sqlite.org/rescode.html)
_BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 5, 6, 8, 10, 11, 13, 14, 26


class StoreDamaged(StoreError):
    """The store file was damaged; it was set aside (``kept``) and a new one starts."""

    def __init__(self, path: Path, kept: Path) -> None:
        super().__init__(
            f"The data store {path} was damaged and has been set aside as {kept.name} (kept for "
            "recovery); the map shows the bundled registries, and the next save starts a new "
            "store.",
            zh=f"数据存储文件 {path} 已损坏，已另存为 {kept.name}（保留以便恢复）；地图显示随附"
            "登记表，下一次保存将新建存储。",
        )
        self.kept = kept


@dataclass(frozen=True)
class Notice:
    """Something the store did on its own that a person should hear about, in both languages."""

    en: str
    zh: str

    def text(self, lang: str = "zh") -> str:
        return self.zh if lang == "zh" else self.en


def store_path() -> Path:
    """Where the embedded store lives: ``$XINING_DATA_DIR/xining.sqlite``."""
    return Path(os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR) / STORE_FILE


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _code(exc: sqlite3.Error) -> int:
    return int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF


def _is_damage(exc: sqlite3.Error) -> bool:
    return _code(exc) in (_CORRUPT, _NOTADB)


def store_error(exc: sqlite3.Error | OSError, path: Path, *, write: bool = True) -> StoreError:
    """One sentence for what went wrong with the store file, in both languages (a read says
    the data could not be read; only a save says nothing was saved)."""
    code = _code(exc) if isinstance(exc, sqlite3.Error) else 0
    if not write and code not in (_BUSY, _LOCKED):
        return StoreError(
            f"The data store {path} cannot be read ({type(exc).__name__}; permissions or a "
            f"failing disk): ask the administrator to check {DATA_DIR_ENV}.",
            zh=f"数据存储 {path} 无法读取（{type(exc).__name__}；权限或磁盘故障），"
            f"请管理员检查 {DATA_DIR_ENV}。",
        )
    if code == _FULL or getattr(exc, "errno", None) == 28:
        return StoreError(
            f"The disk holding the data store ({path.parent}) is full: nothing was saved. Free "
            "some space and save again.",
            zh=f"数据存储所在的磁盘（{path.parent}）已满，本次没有保存任何内容；请清理空间后重新保存。",
        )
    if code in (_BUSY, _LOCKED):
        return StoreError(
            f"Another save held the data store for more than {BUSY_TIMEOUT_S:.0f} s: nothing was "
            "saved. Save again in a moment.",
            zh=f"另一次保存占用数据存储超过 {BUSY_TIMEOUT_S:.0f} 秒，本次没有保存；"
            "请稍后重新保存。",
        )
    if code in (_READONLY, _CANTOPEN, _IOERR) or isinstance(exc, OSError):
        return StoreError(
            f"The data store {path} cannot be written (permissions or a failing disk): nothing "
            f"was saved. Ask the administrator to check {DATA_DIR_ENV}.",
            zh=f"数据存储 {path} 无法写入（权限或磁盘故障），本次没有保存；"
            f"请管理员检查 {DATA_DIR_ENV}。",
        )
    return StoreError(
        f"The data store {path} could not be used ({type(exc).__name__}): nothing was saved.",
        zh=f"数据存储 {path} 无法使用（{type(exc).__name__}），本次没有保存。",
    )


class EmbeddedBackend:
    """Versioned registries in one SQLite file; boundaries and plan from the bundled files."""

    name = "embedded"

    def __init__(self, path: Path | None = None, *, seed: BundledFiles | None = None) -> None:
        self.path = Path(path) if path else store_path()
        self.seed = seed or BundledFiles()
        self.notices: list[Notice] = []

    def __repr__(self) -> str:
        return f"EmbeddedBackend({self.path})"

    # -- the file ------------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = FULL")
        return conn

    def _set_aside(self) -> Path:
        """Move the damaged file (and its WAL) out of the way; return the new name."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        kept = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            part = Path(f"{self.path}{suffix}")
            if part.exists():
                part.replace(Path(f"{kept}{suffix}"))
        return kept

    def _create(self) -> None:
        """Make the file and its tables (idempotent), in WAL mode; migrate the old file store."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._open()
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("BEGIN IMMEDIATE")
            for stmt in DDL:
                conn.execute(stmt)
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
            self._check_schema(conn)
            migrated = _migrate_file_store(conn, self.seed.sites_dir)
            conn.execute("COMMIT")
        finally:
            conn.close()
        if self._legacy():
            _retire_file_store(self.seed.sites_dir)
            if migrated:
                notice = _migrated_notice(self.seed.sites_dir, migrated, self.path)
                LOG.warning(notice.en)  # the server's log; the command lines print it too
                self.notices.append(notice)

    def _check_schema(self, conn: sqlite3.Connection) -> None:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        try:
            newer = row is not None and float(row[0]) > SCHEMA_VERSION
        except (TypeError, ValueError):
            newer = True  # not a version this release wrote
        if newer:
            raise StoreError(
                f"The data store {self.path} was made by a newer release (schema {row[0]}); "
                "update the product before using it.",
                zh=f"数据存储 {self.path} 由更新的版本创建（结构版本 {row[0]}），请先更新本产品。",
            )

    def _legacy(self) -> bool:
        """The old file store left versions to migrate (``sites/.versions``)."""
        return (self.seed.sites_dir / ".versions").is_dir()

    def _verify(self, conn: sqlite3.Connection) -> None:
        """Once per file and process: a damaged file is found before it is read or written."""
        info = self.path.stat()
        key = (str(self.path), info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
        if key in _CHECKED:
            return
        result = conn.execute("PRAGMA quick_check").fetchone()
        if not result or result[0] != "ok":
            raise sqlite3.DatabaseError("quick_check failed")
        _CHECKED.add(key)

    @contextlib.contextmanager
    def _transaction(self, *, write: bool) -> Iterator[sqlite3.Connection | None]:
        """One transaction (IMMEDIATE for a save; a consistent snapshot for a read).

        Reading a store that does not exist yields None: nothing is created until a save (or
        until the old file store's versions need migrating).
        """
        if not write and not self.path.exists() and not self._legacy():
            yield None
            return
        try:
            if write or not self.path.exists() or not _has_tables(self.path) or self._legacy():
                self._create()
            conn = self._open()
        except sqlite3.Error as exc:
            raise self._failure(exc, write=write) from None
        except OSError as exc:
            raise store_error(exc, self.path, write=write) from None
        try:
            self._verify(conn)
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            if not write:
                self._check_schema(conn)
            yield conn
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(conn)
            raise self._failure(exc, write=write) from None
        except BaseException:
            _rollback(conn)
            raise
        finally:
            conn.close()

    def damaged_copies(self) -> list[Path]:
        """Damaged store files set aside beside the store (kept until someone removes them)."""
        pattern = f"{self.path.name}.damaged-*"
        return sorted(
            p for p in self.path.parent.glob(pattern) if not p.name.endswith(("-wal", "-shm"))
        )

    def _failure(self, exc: sqlite3.Error, *, write: bool = True) -> StoreError:
        damaged = _is_damage(exc) or str(exc) == "quick_check failed"
        if damaged and self.path.exists():
            return StoreDamaged(self.path, self._set_aside())
        return store_error(exc, self.path, write=write)

    # -- boundaries and plan: the bundled files ------------------------------------------------
    def load_units(self) -> Units:
        return self.seed.load_units()

    def load_plan(self) -> Plan:
        targets, designations, _ = self.seed.load_plan()
        return Plan(targets, designations, self.load_actuals().frame)

    # -- reported figures ----------------------------------------------------------------------
    def _seed_version(self) -> int:
        return 1 if (self.seed.plan_dir / "reported_actuals.csv").exists() else 0

    def load_actuals(self, *, version: int | None = None) -> FiguresLoad:
        """The reported figures (current, or ``version``); the bundled file until first saved."""
        with self._transaction(write=False) as conn:
            head = _actuals_head(conn)
            if head is None:
                if version is not None and version != self._seed_version():
                    raise _no_version(ACTUALS, version)
                rows = seed_figures(self.seed.plan_dir)
                return FiguresLoad(figures_frame(rows), self._seed_version())
            current, saved_at, saved_by = head
            if version is not None and version != current:
                logged = conn.execute(
                    "SELECT saved_at, saved_by FROM actuals_versions WHERE version = ?",
                    (version,),
                ).fetchone()
                if logged is None:
                    raise _no_version(ACTUALS, version)
                (saved_at, saved_by), current = logged, version
            rows = _figures_at(conn, version)
        return FiguresLoad(figures_frame(rows), int(current), _time(saved_at), saved_by or "")

    def actuals_history(self) -> pd.DataFrame:
        """Every saved version of the figures, oldest first (:data:`HISTORY_COLUMNS`)."""
        with self._transaction(write=False) as conn:
            rows = (
                conn.execute(
                    f"SELECT {', '.join(HISTORY_COLUMNS)} FROM actuals_versions ORDER BY version"
                ).fetchall()
                if conn is not None and _actuals_head(conn) is not None
                else None
            )
        if rows is None:
            seeded = len(seed_figures(self.seed.plan_dir))
            shipped = [[1, None, "", seeded, seeded, 0, "shipped files"]]
            return pd.DataFrame(shipped if self._seed_version() else [], columns=HISTORY_COLUMNS)
        frame = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
        frame["saved_at"] = frame["saved_at"].map(_time)
        return frame

    def save_actuals(
        self,
        frame: pd.DataFrame,
        *,
        expected_version: int,
        saved_by: str = "",
        message: str = "",
    ) -> int:
        """Replace the figures with ``frame`` in one transaction; return the new version.

        Raises :class:`ConflictError` when the stored version is not ``expected_version``;
        saving unchanged figures keeps the version.
        """
        rows = figure_rows(frame)
        with self._transaction(write=True) as conn:
            head = _actuals_head(conn)
            current, saved_at, last_by = head if head else (self._seed_version(), None, "")
            require_version(
                ACTUALS,
                expected=expected_version,
                current=current,
                saved_at=_time(saved_at),
                saved_by=last_by,
            )
            if head is None:
                seeded = seed_figures(self.seed.plan_dir)
                if [figure_hash(r) for r in seeded] == [figure_hash(r) for r in rows]:
                    return int(current)
                _adopt_figures(conn, seeded, version=int(current))
            return _apply_figures(
                conn, rows, version=int(current) + 1, saved_by=saved_by, message=message
            )

    # -- registries ----------------------------------------------------------------------------
    def _heads(self, conn: sqlite3.Connection | None) -> dict[str, tuple]:
        if conn is None:
            return {}
        rows = conn.execute("SELECT layer, version, saved_at, saved_by FROM registry_heads")
        return {layer: (version, at, by) for layer, version, at, by in rows}

    def registry_versions(self) -> dict[str, int]:
        with self._transaction(write=False) as conn:
            heads = self._heads(conn)
        shipped = self.seed.registry_versions()
        return {k: int(heads[k][0]) if k in heads else shipped[k] for k in LAYERS}

    def load_registry(
        self, layer: str, *, include_samples: bool = True, version: int | None = None
    ) -> RegistryLoad:
        if layer not in LAYERS:
            raise InputError(f"Unknown layer '{layer}'. Layers: {', '.join(LAYERS)}")
        with self._transaction(write=False) as conn:
            head = self._heads(conn).get(layer)
            if head is None:
                return self.seed.load_registry(
                    layer, include_samples=include_samples, version=version
                )
            current, saved_at, saved_by = head
            if version is not None and version != current:
                logged = conn.execute(
                    "SELECT saved_at, saved_by FROM registry_versions "
                    "WHERE layer = ? AND version = ?",
                    (layer, version),
                ).fetchone()
                if logged is None:
                    raise InputError(
                        f"Layer '{layer}' has no saved version {version}",
                        zh=f"图层“{LAYERS[layer].zh}”没有第 {version} 版。",
                    )
                (saved_at, saved_by), current = logged, version
            rows = as_read(_rows(conn, layer, version, include_samples=include_samples))
        sites = frame_from_records(rows)
        return RegistryLoad(
            sites=sites,
            rows_read=len(sites),
            layer=layer,
            version=int(current),
            saved_at=_time(saved_at),
            saved_by=saved_by or "",
        )

    def load_bundled(
        self, *, layers: list[str] | None = None, include_samples: bool = True
    ) -> SiteLoad:
        wanted = [k for k in LAYERS if k in (layers or list(LAYERS))]
        with self._transaction(write=False) as conn:
            saved = [k for k in wanted if k in self._heads(conn)]
        loads = [self.load_registry(k, include_samples=include_samples) for k in saved]
        shipped = [k for k in wanted if k not in saved]
        if shipped:
            loads.append(self.seed.load_bundled(layers=shipped, include_samples=include_samples))
        loads = [load for load in loads if not load.sites.empty] or loads
        return combine(loads)

    def history(self, layer: str) -> pd.DataFrame:
        with self._transaction(write=False) as conn:
            saved = layer in self._heads(conn)
            rows = (
                conn.execute(
                    f"SELECT {', '.join(HISTORY_COLUMNS)} FROM registry_versions "
                    "WHERE layer = ? ORDER BY version",
                    (layer,),
                ).fetchall()
                if saved
                else []
            )
        if not saved:
            return self.seed.history(layer)
        frame = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
        frame["saved_at"] = frame["saved_at"].map(_time)
        return frame

    def save_registry(
        self,
        layer: str,
        frame: pd.DataFrame,
        *,
        expected_version: int,
        saved_by: str = "",
        message: str = "",
    ) -> int:
        check_frame(layer, frame)
        rows = records(frame)
        hashes = [row_hash(i, r) for i, r in enumerate(rows)]
        seed_rows = None
        with self._transaction(write=True) as conn:
            head = self._heads(conn).get(layer)
            if head is None:  # first save of the layer: the bundled files are what it replaces
                shipped = self.seed.load_registry(layer)
                current, saved_at, last_by = shipped.version, None, ""
                seed_rows = records(shipped.sites)
            else:
                current, saved_at, last_by = head
            require_version(
                layer,
                expected=expected_version,
                current=current,
                saved_at=_time(saved_at),
                saved_by=last_by,
            )
            if seed_rows is not None:
                if [row_hash(i, r) for i, r in enumerate(seed_rows)] == hashes:
                    return int(current)  # unchanged: nothing written
                _adopt(conn, layer, seed_rows, version=int(current))
            return _apply(
                conn,
                layer,
                rows,
                hashes,
                version=int(current) + 1,
                saved_by=saved_by,
                message=message,
            )

    # -- export --------------------------------------------------------------------------------
    def export(self, directory: Path) -> list[Path]:
        """Write the current registries in the bundled layout under ``directory`` (with the
        bundled boundaries and plan tables beside them), as ``python -m geo.db export`` does."""
        directory = Path(directory)
        seed = self.seed
        for name, source in (("boundaries", seed.boundaries_dir), ("plan", seed.plan_dir)):
            for path in sorted(source.rglob("*")):
                if path.is_file() and not path.name.startswith("."):
                    target = directory / name / path.relative_to(source)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(path.read_bytes())
        figures = figures_csv_frame(self.load_actuals().frame)
        (directory / "plan" / SEED_FILE).write_bytes(to_csv(figures))
        sdir = directory / "sites"
        (sdir / "samples").mkdir(parents=True, exist_ok=True)
        for layer, spec in LAYERS.items():
            rows = records(self.load_registry(layer).sites)
            real = [r for r in rows if not r["is_sample"]]
            samples = [r for r in rows if r["is_sample"]]
            (sdir / spec.file).write_bytes(registry_csv(real))
            if samples:
                (sdir / "samples" / spec.file).write_bytes(registry_csv(samples))
        return sorted(p for p in directory.rglob("*") if p.is_file())


def _has_tables(path: Path) -> bool:
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)
    try:
        return (
            conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'registry_heads'"
            ).fetchone()
            is not None
        )
    finally:
        conn.close()


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def _rows(
    conn: sqlite3.Connection, layer: str, version: int | None, *, include_samples: bool
) -> list[dict]:
    cols = ", ".join(f'"{c}"' for c in SITE_COLUMNS)
    if version is None:
        where, params = "valid_to IS NULL", [layer]
    else:
        where = "valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)"
        params = [layer, version, version]
    if not include_samples:
        where += " AND NOT is_sample"
    cur = conn.execute(
        f"SELECT {cols}, extra, wgs84_lon, wgs84_lat FROM sites "
        f"WHERE layer = ? AND {where} ORDER BY ord",
        params,
    )
    names = [*SITE_COLUMNS, "extra", "wgs84_lon", "wgs84_lat"]
    out = []
    for values in cur.fetchall():
        row = dict(zip(names, values, strict=True))
        row["layer"] = layer
        row["is_sample"] = bool(row["is_sample"])
        row["extra"] = json.loads(row["extra"])
        row["file"] = row.pop("source_file")
        row["row"] = row.pop("source_row")
        out.append(row)
    return out


def _insert(
    conn: sqlite3.Connection, layer: str, items: list[tuple[int, str, dict]], *, version: int
) -> None:
    """Insert ``(position, row_hash, row)`` items valid from ``version``. Rows come in WGS84 (as
    ``records`` gives them); the table holds lon/lat as published (each row's own system) beside
    the exact WGS84 point, which is what a read gives back."""
    stored = published([row for _, _, row in items])
    cols = ", ".join(f'"{c}"' for c in SITE_COLUMNS)
    marks = ", ".join("?" for _ in range(len(SITE_COLUMNS) + 7))
    conn.executemany(
        f"INSERT INTO sites (layer, ord, row_hash, valid_from, {cols}, extra, wgs84_lon, "
        f"wgs84_lat) VALUES ({marks})",
        [
            (
                layer,
                position,
                digest,
                version,
                *(out[c] for c in SITE_TEXT),
                out["lon"],
                out["lat"],
                out["year"],
                int(out["is_sample"]),
                out["file"],
                out["row"],
                json.dumps(out["extra"], ensure_ascii=False, sort_keys=True),
                row["lon"],
                row["lat"],
            )
            for (position, digest, row), out in zip(items, stored, strict=True)
        ],
    )


def _adopt(conn: sqlite3.Connection, layer: str, rows: list[dict], *, version: int) -> None:
    """Record the bundled files as the layer's version ``version`` (0: no files, no rows)."""
    conn.execute(
        "INSERT INTO registry_heads (layer, version, saved_at, saved_by) VALUES (?, ?, NULL, '')",
        (layer, version),
    )
    if version >= 1:
        items = [(i, row_hash(i, r), r) for i, r in enumerate(rows)]
        _insert(conn, layer, items, version=version)
        conn.execute(
            "INSERT INTO registry_versions VALUES (?, ?, NULL, '', ?, ?, 0, 'shipped files')",
            (layer, version, len(rows), len(rows)),
        )


def _apply(
    conn: sqlite3.Connection,
    layer: str,
    rows: list[dict],
    hashes: list[str],
    *,
    version: int,
    saved_by: str,
    message: str,
    saved_at: str | None = None,
    keep_unchanged: bool = False,
) -> int:
    """Make ``rows`` the layer's version ``version`` (rows that did not change are kept, the
    others closed and inserted); return the version now current. Unchanged rows make no new
    version unless ``keep_unchanged`` (replaying an old history as it was)."""
    current = {
        digest
        for (digest,) in conn.execute(
            "SELECT row_hash FROM sites WHERE layer = ? AND valid_to IS NULL", (layer,)
        )
    }
    incoming = set(hashes)
    removed = current - incoming
    added = [i for i, digest in enumerate(hashes) if digest not in current]
    if not removed and not added and not keep_unchanged:
        return version - 1
    conn.executemany(
        "UPDATE sites SET valid_to = ? WHERE layer = ? AND valid_to IS NULL AND row_hash = ?",
        [(version, layer, digest) for digest in removed],
    )
    _insert(conn, layer, [(i, hashes[i], rows[i]) for i in added], version=version)
    at = saved_at or _now()
    conn.execute(
        "UPDATE registry_heads SET version = ?, saved_at = ?, saved_by = ? WHERE layer = ?",
        (version, at, saved_by, layer),
    )
    conn.execute(
        "INSERT INTO registry_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (layer, version, at, saved_by, len(rows), len(added), len(removed), message),
    )
    return version


# -- the file store of earlier releases ------------------------------------------------------
def _old_log(path: Path) -> dict[int, dict]:
    """The old store's log lines by version; a truncated or broken line is skipped."""
    entries: dict[int, dict] = {}
    if not path.exists():
        return entries
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        with contextlib.suppress(ValueError, TypeError, KeyError):
            entry = json.loads(line)
            entries[int(entry["version"])] = entry
    return entries


def _old_versions(layer: str, hist: Path, head: int) -> list[tuple[int, list[dict]]]:
    """Saved versions up to the old head (a save the head never acknowledged is left out),
    each checked as a save would be; a version file that cannot be read or checked is skipped,
    and of two files of one version number the first is kept."""
    out: dict[int, list[dict]] = {}
    for path in sorted(hist.glob("v*.json"), key=lambda p: p.stem):
        number = path.stem[1:]
        if not number.isdigit() or int(number) > head or int(number) in out:
            continue
        try:
            frame = frame_from_records(json.loads(path.read_text(encoding="utf-8")))
            frame["layer"] = layer
            check_frame(layer, frame)
            out[int(number)] = records(frame)
        except Exception:  # anything in an old file we cannot trust: that version is skipped
            continue
    return sorted(out.items())


def _migrate_file_store(conn: sqlite3.Connection, sites_dir: Path) -> dict[str, int]:
    """Copy the versions of the old file store (``sites/.versions``, ``sites/.history``) into
    the tables, for each layer the store does not hold yet; return versions moved per layer.
    A layer whose old files cannot be migrated is left out whole (its shipped files stay its
    registry), never half-migrated."""
    moved: dict[str, int] = {}
    held = {layer for (layer,) in conn.execute("SELECT layer FROM registry_heads")}
    for layer in LAYERS:
        head_file = sites_dir / ".versions" / f"{layer}.json"
        if layer in held or not head_file.exists():
            continue
        conn.execute("SAVEPOINT old_layer")
        try:
            count = _migrate_layer(conn, layer, sites_dir, head_file)
        except Exception:  # an old store's oddity must not stop the product
            conn.execute("ROLLBACK TO old_layer")
            count = 0
        conn.execute("RELEASE old_layer")
        if count:
            moved[layer] = count
    return moved


def _migrate_layer(conn: sqlite3.Connection, layer: str, sites_dir: Path, head_file: Path) -> int:
    head = int(json.loads(head_file.read_text(encoding="utf-8"))["version"])
    hist = sites_dir / ".history" / layer
    versions = _old_versions(layer, hist, head)
    if not versions:
        return 0
    log = _old_log(hist / "log.jsonl")
    conn.execute("INSERT INTO registry_heads (layer, version) VALUES (?, 0)", (layer,))
    for number, rows in versions:
        entry = log.get(number, {})
        _apply(
            conn,
            layer,
            rows,
            [row_hash(i, r) for i, r in enumerate(rows)],
            version=number,
            saved_by=str(entry.get("saved_by") or ""),
            message=str(entry.get("message") or ""),
            saved_at=str(entry["saved_at"]) if entry.get("saved_at") else None,
            keep_unchanged=True,
        )
    return len(versions)


def _retire_file_store(sites_dir: Path) -> None:
    """Rename the old store's folders: kept, never deleted, and never migrated again (on a
    read-only disk they stay; the layers migrated are then simply skipped next time)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    for name in (".history", ".versions"):
        old = sites_dir / name
        if old.exists():
            target = sites_dir / f"{name}.migrated"
            target = target if not target.exists() else sites_dir / f"{name}.migrated-{stamp}"
            with contextlib.suppress(OSError):
                old.replace(target)


def _migrated_notice(sites_dir: Path, moved: dict[str, int], path: Path) -> Notice:
    n = sum(moved.values())
    return Notice(
        en=f"Moved {n} saved versions of {len(moved)} layers from the old file store "
        f"({sites_dir}/.history) into {path}; the old folders are kept as .history.migrated "
        "and .versions.migrated.",
        zh=f"已将旧文件存储（{sites_dir}/.history）中 {len(moved)} 个图层的 {n} 个保存版本迁入 "
        f"{path}；旧文件夹保留为 .history.migrated 和 .versions.migrated。",
    )


# -- reported figures ------------------------------------------------------------------------
def _no_version(what: str, version: int) -> InputError:
    return InputError(f"'{what}' has no saved version {version}", zh=f"没有第 {version} 版。")


def _actuals_head(conn: sqlite3.Connection | None) -> tuple | None:
    if conn is None:
        return None
    return conn.execute("SELECT version, saved_at, saved_by FROM actuals_heads").fetchone()


def _figures_at(conn: sqlite3.Connection, version: int | None) -> list[dict]:
    cols = ", ".join(STORED_COLUMNS)
    if version is None:
        where, params = "valid_to IS NULL", ()
    else:
        where = "valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)"
        params = (version, version)
    cur = conn.execute(
        f"SELECT {cols} FROM actuals WHERE {where} ORDER BY target_id, scope_code, period", params
    )
    return [dict(zip(STORED_COLUMNS, values, strict=True)) for values in cur.fetchall()]


def _insert_figures(conn: sqlite3.Connection, rows: list[dict], *, version: int) -> None:
    marks = ", ".join("?" for _ in range(len(STORED_COLUMNS) + 2))
    conn.executemany(
        f"INSERT INTO actuals (row_hash, valid_from, {', '.join(STORED_COLUMNS)}) VALUES ({marks})",
        [(figure_hash(r), version, *(r[c] for c in STORED_COLUMNS)) for r in rows],
    )


def _adopt_figures(conn: sqlite3.Connection, rows: list[dict], *, version: int) -> None:
    """Record the bundled figures as version ``version`` (0: no file)."""
    conn.execute("INSERT INTO actuals_heads (name, version) VALUES (?, ?)", (ACTUALS, version))
    if version >= 1:
        _insert_figures(conn, rows, version=version)
        conn.execute(
            "INSERT INTO actuals_versions VALUES (?, NULL, '', ?, ?, 0, 'shipped files')",
            (version, len(rows), len(rows)),
        )


def _apply_figures(
    conn: sqlite3.Connection, rows: list[dict], *, version: int, saved_by: str, message: str
) -> int:
    """Make ``rows`` the figures of ``version``: unchanged figures keep their entry (who and
    when), the others are closed or inserted as entered now by ``saved_by``."""
    current = {
        digest for (digest,) in conn.execute("SELECT row_hash FROM actuals WHERE valid_to IS NULL")
    }
    incoming = {figure_hash(r): r for r in rows}
    removed = current - set(incoming)
    added = [r for digest, r in incoming.items() if digest not in current]
    if not removed and not added:
        return version - 1
    at = _now()
    conn.executemany(
        "UPDATE actuals SET valid_to = ? WHERE valid_to IS NULL AND row_hash = ?",
        [(version, digest) for digest in removed],
    )
    _insert_figures(conn, [{**r, **entry(r, saved_by, at)} for r in added], version=version)
    conn.execute(
        "UPDATE actuals_heads SET version = ?, saved_at = ?, saved_by = ?", (version, at, saved_by)
    )
    conn.execute(
        "INSERT INTO actuals_versions VALUES (?, ?, ?, ?, ?, ?, ?)",
        (version, at, saved_by, len(rows), len(added), len(removed), message),
    )
    return version
