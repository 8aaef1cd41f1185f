"""The one-way flow shared by the command line and the app: files → validated → assigned."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd

from geo.assign import assign_sites, problems
from geo.boundaries import Units, load_units
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
    def has_issues(self) -> bool:
        """True when some input rows were rejected or could not be placed inside the city."""
        return not self.load.rejects.empty or not self.problems.empty


def load_sites(
    units: Units | None = None,
    *,
    site_files: Sequence[Path | str] = (),
    layers: Sequence[str] | None = None,
    include_samples: bool = False,
) -> Sites:
    """Bundled registries, with each layer found in ``site_files`` replaced by those files.

    ``layers`` limits the result to some layers. Samples are left out unless asked for.
    """
    units = units or load_units()
    wanted = list(layers or LAYERS)
    user = [read_sites(path) for path in site_files]
    replaced = sorted({k for load in user for k in load.sites["layer"].unique()})
    keep = [k for k in wanted if k not in replaced]
    loads = [*user]
    if keep:
        loads.append(load_bundled(layers=keep, include_samples=include_samples))
    load = combine(loads)
    sites = load.sites[load.sites["layer"].isin(wanted)]
    if not include_samples:
        sites = sites[~sites["is_sample"]]
    return Sites(assign_sites(sites, units), load, tuple(replaced))
