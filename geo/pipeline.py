"""The one-way flow shared by the command line and the app: files → validated → assigned.

Uploads (bytes + a name from the app) are read with :func:`layers.registry.read_sites` and
passed as ``loads``; files on disk as ``site_files``. :attr:`Sites.report` is the validation
report of everything read (see :mod:`geo.report`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd

from geo.assign import assign_sites, problems
from geo.boundaries import Units, load_units
from geo.places import normalize_places
from geo.report import validation_report
from layers.registry import SiteLoad, combine, load_bundled, read_sites
from layers.schema import LAYERS


@dataclass
class Sites:
    """Assigned sites plus everything the reading and assignment reported."""

    assigned: gpd.GeoDataFrame
    load: SiteLoad
    replaced_layers: tuple[str, ...] = ()

    @property
    def problems(self) -> gpd.GeoDataFrame:
        return problems(self.assigned)

    @property
    def report(self) -> pd.DataFrame:
        """Every rejected row and warning, including points outside Xining (geo.report)."""
        return validation_report(self.load, self.assigned)

    @property
    def has_issues(self) -> bool:
        """True when some input rows were rejected or could not be placed inside the city."""
        return not self.load.rejects.empty or not self.problems.empty


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
    """Bundled registries, with each layer found in ``site_files`` or ``loads`` replaced by them.

    ``loads`` are registries already read (e.g. uploads, ``read_sites(data, filename=...)``);
    ``crs`` and ``sheet`` apply to ``site_files``. ``layers`` limits the result to some layers.
    Samples are left out unless asked for.
    """
    units = units or load_units()
    wanted = list(layers or LAYERS)
    user = [read_sites(path, crs=crs, sheet=sheet) for path in site_files] + list(loads)
    replaced = sorted({k for load in user for k in load.sites["layer"].unique()})
    keep = [k for k in wanted if k not in replaced]
    every = [*user]
    if keep:
        every.append(load_bundled(layers=keep, include_samples=include_samples))
    load = combine(every)
    sites = load.sites[load.sites["layer"].isin(wanted)]
    if not include_samples:
        sites = sites[~sites["is_sample"]]
    sites, place_notes = normalize_places(sites, units)
    if not place_notes.empty:
        load.notes = pd.concat([load.notes, place_notes], ignore_index=True)
    return Sites(assign_sites(sites, units), load, tuple(replaced))
