"""The inputs of every computation, assembled from the configured store (the one reader of it).

The spatial core and the metrics take units, sites and plan tables as arguments and never import
storage. The dashboard, the command lines and the briefs call these functions instead: they read
the store :func:`geo.backends.get_backend` picks (the embedded store by default, PostGIS when
``XINING_DATABASE_URL`` is set), read a planner's own files, and hand the frames on.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path

from geo.attainment import Plan
from geo.backends import BundledFiles, database_url, get_backend, schema_name
from geo.backends.files import load_indicators_from_files
from geo.boundaries import Units
from geo.indicators import derive
from geo.pipeline import Sites, assemble_sites
from layers.registry import SiteLoad, read_sites
from layers.schema import LAYERS


def load_units() -> Units:
    """Counties, township register (+ polygons), villages and seats from the configured store.

    Cached per store: boundaries do not change while the product runs.
    """
    url = database_url()
    return _units(url, schema_name()) if url else BundledFiles().load_units()


@cache
def _units(url: str, schema: str) -> Units:
    return get_backend(url, schema=schema).load_units()


def load_plan() -> Plan:
    """The plan's targets, designations and reported figures from the configured store, with
    the derived indicators computed from the figures (``geo.indicators``)."""
    targets, designations, reported = get_backend().load_plan()
    return Plan(targets, designations, derive(reported, load_indicators_from_files()))


def load_bundled(*, layers: Sequence[str] | None = None, include_samples: bool = True) -> SiteLoad:
    """The stored registries of ``layers`` (all by default) in one load."""
    return get_backend().load_bundled(
        layers=list(layers) if layers else None, include_samples=include_samples
    )


def load_sites(
    units: Units | None = None,
    *,
    site_files: Sequence[Path | str] = (),
    loads: Sequence[SiteLoad] = (),
    layers: Sequence[str] | None = None,
    include_samples: bool = False,
    crs: str | None = None,
    sheet: str | int | None = None,
) -> Sites:
    """Stored registries, with each layer found in ``site_files`` or ``loads`` replaced by them,
    assigned to ``units`` (default: the stored units).

    ``loads`` are registries already read (e.g. uploads, ``read_sites(data, filename=...)``);
    ``crs`` and ``sheet`` apply to ``site_files``. Samples are left out unless asked for.
    """
    units = units or load_units()
    user = [read_sites(path, crs=crs, sheet=sheet) for path in site_files] + list(loads)
    replaced = {k for load in user for k in load.sites["layer"].unique()}
    keep = [k for k in (layers or LAYERS) if k not in replaced]
    bundled = load_bundled(layers=keep, include_samples=include_samples) if keep else None
    return assemble_sites(
        units, bundled=bundled, loads=user, layers=layers, include_samples=include_samples
    )


__all__ = ["load_bundled", "load_plan", "load_sites", "load_units"]
