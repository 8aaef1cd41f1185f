"""What every store offers (:class:`Backend`) and which one is configured.

One small interface, :class:`Backend`, serves boundaries, the four site registries and the plan
tables. :func:`get_backend` picks the backend: the files shipped in ``data/`` when no database URL
is configured, PostGIS when ``XINING_DATABASE_URL`` is set (or a URL is passed; the Streamlit app
passes its secret through :func:`configure`). The core never imports streamlit.

Registries are versioned in both backends. A planner saves with the version they loaded
(``expected_version``); if someone else saved in between, :class:`ConflictError` says who and when,
and nothing is written. Every save is one transaction; old versions stay readable (history).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo

import pandas as pd

from base.errors import StoreError
from geo.attainment import Plan
from geo.backends._figures import FiguresLoad
from geo.boundaries import Units
from layers.registry import SiteLoad

DATABASE_URL_ENV = "XINING_DATABASE_URL"
SCHEMA_ENV = "XINING_DATABASE_SCHEMA"
DEFAULT_SCHEMA = "xining"
# Times in conflict messages are shown as the planners' wall clock (China Standard Time).
DISPLAY_TZ = ZoneInfo("Asia/Shanghai")

HISTORY_COLUMNS = ["version", "saved_at", "saved_by", "n_rows", "n_added", "n_removed", "message"]

_configured_url: str | None = None
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class ConflictError(RuntimeError):
    """Someone else saved the layer after it was loaded: nothing was written."""

    def __init__(
        self,
        layer: str,
        *,
        expected: int,
        current: int,
        saved_at: datetime | None,
        saved_by: str = "",
    ) -> None:
        self.layer, self.expected, self.current = layer, expected, current
        self.saved_at, self.saved_by = saved_at, saved_by
        who = f"Someone else ({saved_by})" if saved_by else "Someone else"
        when = f" at {self.clock}" if saved_at else ""
        super().__init__(
            f"{who} saved layer '{layer}'{when} (version {current}) after you loaded "
            f"version {expected}; reload and reapply your changes. Nothing was saved."
        )

    @property
    def clock(self) -> str:
        """When the other save happened, on the planners' wall clock ('' if unknown)."""
        return _clock(self.saved_at) if self.saved_at else ""


def require_version(
    what: str,
    *,
    expected: int,
    current: int,
    saved_at: datetime | None,
    saved_by: str | None,
) -> None:
    """The optimistic check of every save: raise :class:`ConflictError` (who saved, when, which
    version) unless the stored version is still the one the save was loaded from."""
    if int(current) != int(expected):
        raise ConflictError(
            what,
            expected=int(expected),
            current=int(current),
            saved_at=saved_at,
            saved_by=saved_by or "",
        )


def _clock(moment: datetime) -> str:
    if moment.tzinfo is None:
        return moment.strftime("%H:%M")
    return moment.astimezone(DISPLAY_TZ).strftime("%H:%M") + " (UTC+8)"


@dataclass
class RegistryLoad(SiteLoad):
    """One layer's registry as stored, with the version to pass back to ``save_registry``."""

    layer: str = ""
    version: int = 0
    saved_at: datetime | None = None
    saved_by: str = ""
    extra: dict = field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    """What the app and the command line need from a store."""

    name: str

    def load_units(self) -> Units:
        """Counties, township register (+ polygons), villages and seats."""

    def load_registry(
        self, layer: str, *, include_samples: bool = True, version: int | None = None
    ) -> RegistryLoad:
        """One layer's sites (canonical columns, as ``read_sites`` returns them) and version.

        ``version`` reads an older version from the history; default the current one.
        """

    def save_registry(
        self,
        layer: str,
        frame: pd.DataFrame,
        *,
        expected_version: int,
        saved_by: str = "",
        message: str = "",
    ) -> int:
        """Replace the layer's rows with ``frame`` in one transaction; return the new version.

        Raises :class:`ConflictError` when the stored version is not ``expected_version``.
        Saving an unchanged frame keeps the version.
        """

    def history(self, layer: str) -> pd.DataFrame:
        """Every saved version of the layer, oldest first (:data:`HISTORY_COLUMNS`)."""

    def registry_versions(self) -> dict[str, int]:
        """The current version of every layer (0: never saved), cheaply: to key caches and to
        remember what a planner loaded."""

    def load_plan(self) -> Plan:
        """Targets, designations and reported actuals (:class:`geo.attainment.Plan`)."""

    def load_bundled(
        self, *, layers: list[str] | None = None, include_samples: bool = True
    ) -> SiteLoad:
        """All wanted layers in one load (as ``layers.registry.load_bundled`` reads files)."""

    def load_actuals(self, *, version: int | None = None) -> FiguresLoad:
        """The reported figures and their version (``version``: an older one)."""

    def save_actuals(
        self,
        frame: pd.DataFrame,
        *,
        expected_version: int,
        saved_by: str = "",
        message: str = "",
    ) -> int:
        """Replace the figures in one transaction; return the new version (ConflictError when
        the stored version is not ``expected_version``; unchanged figures keep the version)."""

    def actuals_history(self) -> pd.DataFrame:
        """Every saved version of the figures, oldest first (:data:`HISTORY_COLUMNS`)."""


def configure(url: str | None) -> None:
    """Set the database URL for this process (the app passes Streamlit secrets here).

    The environment variable still wins when both are set, so an operator can always override.
    """
    global _configured_url
    _configured_url = url or None


def database_url() -> str | None:
    """The configured database URL, or None: then the embedded files are used."""
    return os.environ.get(DATABASE_URL_ENV) or _configured_url or None


def schema_name(schema: str | None = None) -> str:
    name = schema or os.environ.get(SCHEMA_ENV) or DEFAULT_SCHEMA
    if not _SCHEMA_NAME.match(name):
        raise ValueError(f"schema name must be lower-case letters, digits and _: '{name}'")
    return name


_CAUSES = (  # (words in the driver's message, English, Chinese): the first that matches
    (
        ("password authentication failed", "role", "no password supplied", "authentication"),
        "The database refused the user name or password",
        "数据库拒绝了用户名或密码",
    ),
    (
        ("does not exist",),
        "The database named in the URL does not exist on the server",
        "数据库服务器上没有该网址指定的数据库",
    ),
    (
        (
            "connection refused",
            "timeout",
            "timed out",
            "resolve host",
            "could not translate",
            "no route",
            "network is unreachable",
            "server closed the connection",
        ),
        "The database server does not answer (stopped, or a wrong host or port)",
        "数据库服务器没有响应（已停止，或主机、端口有误）",
    ),
)


def _where(url: str) -> str | None:
    """``user@host:port/dbname`` of a database URL, never its password; None when the URL
    cannot be read unambiguously (then nothing of it is shown)."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        parts = conninfo_to_dict(url)
    except Exception:  # any parse failure: show nothing of the URL
        return None
    fields = [str(parts.get(k) or "") for k in ("user", "host", "port", "dbname")]
    if any("@" in f or any(c.isspace() for c in f) for f in fields):
        return None  # e.g. an unencoded @ in the password: the host would show part of it
    user, host, port, dbname = fields
    where = (f"{user}@" if user else "") + (host or "localhost") + (f":{port}" if port else "")
    return where + (f"/{dbname}" if dbname else "")


def connection_error(exc: Exception, url: str, *, malformed: bool = False) -> StoreError:
    """One sentence for a failed connection: what went wrong and where (user, host, port,
    database), never the password nor the driver's own words, which may quote it."""
    where = _where(url)
    if malformed or where is None:
        return StoreError(
            f"The database URL in {DATABASE_URL_ENV} (or the secrets file) is malformed: check "
            "its form postgresql://USER:PASSWORD@HOST:PORT/DATABASE (a space or @ in the "
            "password must be percent-encoded, %20 and %40).",
            zh=f"{DATABASE_URL_ENV}（或密钥配置文件）中的数据库网址格式有误：请按 "
            "postgresql://用户:密码@主机:端口/数据库 的格式检查"
            "（密码中的空格或 @ 须写作 %20、%40）。",
        )
    text = str(exc).lower()
    en, zh = f"The database cannot be reached ({type(exc).__name__})", "无法连接数据库"
    for words, cause_en, cause_zh in _CAUSES:
        if any(w in text for w in words):
            en, zh = cause_en, cause_zh
            break
    return StoreError(f"{en}: {where}.", zh=f"{zh}：{where}。")
