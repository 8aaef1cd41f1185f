"""The one-way flow shared by the command line and the app: validated registries → assigned.

Uploads and files are read with :func:`layers.registry.read_sites` and passed as ``loads``; the
stored registry comes in as ``bundled`` (``geo.loader.load_sites`` does both from the configured
store). :attr:`Sites.report` is the validation report of everything read (see :mod:`geo.report`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import geopandas as gpd
import pandas as pd

from base.errors import InputError
from geo.assign import assign_sites, problems
from geo.boundaries import Units
from geo.places import normalize_places
from geo.report import validation_report
from layers.registry import SiteLoad, combine
from layers.schema import LAYERS


@dataclass
class Sites:
    """Assigned sites plus everything the reading and assignment reported."""

    assigned: gpd.GeoDataFrame
    load: SiteLoad

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


def assemble_sites(
    units: Units,
    *,
    bundled: SiteLoad | None = None,
    loads: Sequence[SiteLoad] = (),
    layers: Sequence[str] | None = None,
    include_samples: bool = False,
) -> Sites:
    """Registries → assigned sites: each layer found in ``loads`` replaces the ``bundled`` one.

    ``loads`` are registries already read (uploads, a planner's files: ``read_sites``);
    ``bundled`` is the stored registry (``geo.loader`` reads it from the configured store).
    ``layers`` limits the result to some layers. Samples are left out unless asked for.
    """
    wanted = list(layers or LAYERS)
    user = list(loads)
    replaced = sorted({k for load in user for k in load.sites["layer"].unique()})
    every = [*user]
    if bundled is not None:
        kept = bundled.sites["layer"].isin([k for k in wanted if k not in replaced])
        every.append(replace(bundled, sites=bundled.sites[kept].reset_index(drop=True)))
    if not every:
        raise InputError("No registry to assign: neither a stored registry nor a file was given.")
    load = combine(every)
    sites = load.sites[load.sites["layer"].isin(wanted)]
    if not include_samples:
        sites = sites[~sites["is_sample"]]
    sites, place_notes = normalize_places(sites, units)
    if not place_notes.empty:
        load.notes = pd.concat([load.notes, place_notes], ignore_index=True)
    return Sites(assign_sites(sites, units), load)
