"""Where the data lives: the embedded SQLite store (default) or a shared PostGIS database.

Storage is an adapter at the edge: a :class:`Backend` returns and accepts frames, and no computing
module imports this package. :func:`get_backend` picks the store: the embedded store
(:mod:`geo.backends.embedded`: one SQLite file, seeded from the files shipped in ``data/``) when
no database URL is configured, PostGIS when ``XINING_DATABASE_URL`` is set (or a URL is
passed; the Streamlit app passes its secret through :func:`configure`). ``geo.loader`` is the one
module that assembles the computing inputs from it.
"""

from __future__ import annotations

from geo.backends.embedded import EmbeddedBackend, store_path
from geo.backends.files import BundledFiles
from geo.backends.postgis import PostGISBackend
from geo.backends.store import (
    DATABASE_URL_ENV,
    DISPLAY_TZ,
    HISTORY_COLUMNS,
    SCHEMA_ENV,
    Backend,
    ConflictError,
    RegistryLoad,
    configure,
    database_url,
    schema_name,
)


def get_backend(url: str | None = None, *, schema: str | None = None) -> Backend:
    """The PostGIS backend for ``url`` (or the configured URL), else the embedded store."""
    url = url or database_url()
    if not url:
        return EmbeddedBackend(store_path())
    return PostGISBackend(url, schema=schema_name(schema))


__all__ = [
    "DATABASE_URL_ENV",
    "DISPLAY_TZ",
    "HISTORY_COLUMNS",
    "SCHEMA_ENV",
    "Backend",
    "BundledFiles",
    "ConflictError",
    "EmbeddedBackend",
    "PostGISBackend",
    "RegistryLoad",
    "configure",
    "database_url",
    "get_backend",
    "schema_name",
    "store_path",
]
