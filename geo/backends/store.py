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
# the password of a URL (scheme://user:PASSWORD@host) or of key=value settings (password=...)
_URL_PASSWORD = re.compile(r"(?<=://)([^/@\s]*?):([^@\s]*)@")
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]+)", re.IGNORECASE)
HIDDEN = "***"


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


def _passwords(url: str) -> list[str]:
    found = [m.group(2) for m in _URL_PASSWORD.finditer(url)]
    found += [m.group(2).strip("'") for m in _KV_PASSWORD.finditer(url)]
    return [p for p in found if p]


def redact(url: str) -> str:
    """The database URL as it may be shown: the password replaced by ``***``."""
    out = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}:{HIDDEN}@", url)
    return _KV_PASSWORD.sub(lambda m: m.group(1) + HIDDEN, out)


def scrub(text: str, url: str) -> str:
    """``text`` (e.g. a driver's error) with every password of ``url`` hidden."""
    for secret in sorted(_passwords(url), key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    return redact(text).strip()


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


def connection_error(exc: Exception, url: str, *, malformed: bool = False) -> StoreError:
    """One sentence for a failed connection: what went wrong, where, and never the password."""
    reason = scrub(str(exc), url).splitlines()[0] if str(exc).strip() else type(exc).__name__
    where = redact(url)
    if malformed:
        return StoreError(
            f"The database URL {where} is malformed ({reason}); fix {DATABASE_URL_ENV} or the "
            "secrets file.",
            zh=f"数据库网址 {where} 格式有误（{reason}），"
            f"请修正 {DATABASE_URL_ENV} 或密钥配置文件。",
        )
    text = str(exc).lower()
    en, zh = "The database cannot be reached", "无法连接数据库"
    for words, cause_en, cause_zh in _CAUSES:
        if any(w in text for w in words):
            en, zh = cause_en, cause_zh
            break
    return StoreError(f"{en} ({where}): {reason}.", zh=f"{zh}（{where}）：{reason}。")
