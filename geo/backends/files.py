"""The bundled files in ``data/``: the seed the embedded store starts from, read-only.

:class:`BundledFiles` reads boundaries, plan tables and registries in the bundled layout
(``boundaries/``, ``sites/``, ``plan/``). It never writes: saves go to the embedded SQLite store
(:mod:`geo.backends.embedded`) or to PostGIS, and both export back to this layout
(:func:`registry_csv` writes a registry file as the reader reads it).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from base.crs import WGS84
from base.errors import InputError
from base.settings import BOUNDARIES_DIR, PLAN_DIR, SITES_DIR
from geo.attainment import Plan
from geo.backends._figures import figure_rows, figures_frame
from geo.backends._registry import TEXT_COLUMNS, frame_from_records, published
from geo.backends.store import HISTORY_COLUMNS, RegistryLoad
from geo.boundaries import Units
from geo.export import to_csv
from layers.registry import SiteLoad, combine, load_bundled, read_sites
from layers.schema import COLUMNS, LAYERS


class BundledFiles:
    """Boundaries, registries and plan tables from directories in the bundled layout.

    Each layer's shipped files are its version 1 (0: the layer has no file).
    """

    name = "files"

    def __init__(
        self,
        boundaries_dir: Path = BOUNDARIES_DIR,
        sites_dir: Path = SITES_DIR,
        plan_dir: Path = PLAN_DIR,
    ) -> None:
        self.boundaries_dir = Path(boundaries_dir)
        self.sites_dir = Path(sites_dir)
        self.plan_dir = Path(plan_dir)

    def __repr__(self) -> str:
        return f"BundledFiles({self.boundaries_dir.parent})"

    def load_units(self) -> Units:
        return load_units_from_files(self.boundaries_dir)

    def load_plan(self) -> Plan:
        return load_plan_from_files(self.plan_dir)

    def _paths(self, layer: str) -> list[Path]:
        file = LAYERS[layer].file
        paths = [self.sites_dir / file, self.sites_dir / "samples" / file]
        return [p for p in paths if p.exists()]

    def registry_versions(self) -> dict[str, int]:
        return {layer: 1 if self._paths(layer) else 0 for layer in LAYERS}

    def load_registry(
        self, layer: str, *, include_samples: bool = True, version: int | None = None
    ) -> RegistryLoad:
        if layer not in LAYERS:
            raise InputError(f"Unknown layer '{layer}'. Layers: {', '.join(LAYERS)}")
        shipped = 1 if self._paths(layer) else 0
        if version is not None and version != shipped:
            raise InputError(
                f"Layer '{layer}' has no saved version {version}",
                zh=f"图层“{LAYERS[layer].zh}”没有第 {version} 版。",
            )
        loads = [read_sites(p, layer=layer) for p in self._paths(layer)]
        load = combine(loads) if loads else SiteLoad(frame_from_records([]))
        sites = load.sites
        if not include_samples:
            sites = sites[~sites["is_sample"]].reset_index(drop=True)
        return RegistryLoad(
            sites=sites,
            rejects=load.rejects,
            warnings=load.warnings,
            rows_read=load.rows_read,
            layer=layer,
            version=shipped,
        )

    def load_bundled(
        self, *, layers: list[str] | None = None, include_samples: bool = True
    ) -> SiteLoad:
        return load_bundled(
            layers=layers, include_samples=include_samples, sites_dir=self.sites_dir
        )

    def history(self, layer: str) -> pd.DataFrame:
        """The shipped files are version 1 of each layer that has them."""
        if self.registry_versions()[layer] != 1:
            return pd.DataFrame(columns=HISTORY_COLUMNS)
        rows = len(self.load_registry(layer).sites)
        shipped = [[1, None, "", rows, rows, 0, "shipped files"]]
        return pd.DataFrame(shipped, columns=HISTORY_COLUMNS)


def registry_csv(rows: list[dict]) -> bytes:
    """Rows as a registry file in the canonical schema, as published (:func:`published`:
    coordinates in their source system, nothing filled in that the reader derives).

    Written like every CSV the product makes (:func:`geo.export.to_csv`: UTF-8 with BOM,
    formula-like text neutralised, which ``read_sites`` undoes).
    """
    extras: dict[str, None] = {}
    for row in rows:
        for key in row["extra"]:
            extras.setdefault(key)
    out = []
    for row in published(rows):
        rec: dict[str, object] = {c: row[c] for c in TEXT_COLUMNS}
        rec["lon"] = np.nan if row["lon"] is None else row["lon"]
        rec["lat"] = np.nan if row["lat"] is None else row["lat"]
        rec["year"] = row["year"]
        rec["is_sample"] = "true" if row["is_sample"] else "false"
        for key in extras:
            rec[key] = row["extra"].get(key, "")
        out.append(rec)
    frame = pd.DataFrame(out, columns=[*COLUMNS, *extras], dtype=object)
    frame["lon"] = frame["lon"].astype(float)
    frame["lat"] = frame["lat"].astype(float)
    frame["year"] = pd.array(frame["year"], dtype="Int64")
    return to_csv(frame)


# -- boundaries and plan tables in the bundled layout ------------------------------------------
def _read_csv(path: Path, **kwargs) -> pd.DataFrame:
    if not path.exists():
        raise InputError(f"Missing data file {path}. Run scripts/build_data.py or restore it.")
    return pd.read_csv(path, dtype=str, keep_default_na=False, **kwargs)


@cache
def load_units_from_files(directory: Path = BOUNDARIES_DIR) -> Units:
    """Load and validate the bundled boundaries (cached: the files do not change at run time)."""
    counties = gpd.read_file(directory / "counties.geojson")
    if counties.crs is None or not counties.crs.equals(WGS84):
        counties = counties.set_crs(WGS84, allow_override=True)
    counties["code"] = counties["code"].astype(str)
    counties["pop_2020"] = pd.to_numeric(counties["pop_2020"])
    if len(counties) != 7 or counties["code"].duplicated().any():
        raise InputError(f"{directory / 'counties.geojson'} must hold the 7 counties once each")

    register = _read_csv(directory / "townships.csv")
    register["is_statistical"] = register["is_statistical"].eq("True")
    register["n_villages"] = register["n_villages"].astype(int)
    unknown = set(register["county_code"]) - set(counties["code"])
    if unknown:
        raise InputError(f"townships.csv names unknown counties: {sorted(unknown)}")
    zones = gpd.read_file(directory / "township_zones.geojson")
    zones["code"] = zones["code"].astype(str)
    zones = zones.set_index("code")
    register["geometry"] = register["code"].map(zones["geometry"])
    register["geometry_source"] = register["code"].map(zones["geometry_source"]).fillna("none")
    seats = _read_csv(directory / "township_seats.csv")
    seats[["lon", "lat"]] = seats[["lon", "lat"]].astype(float)
    county_seats = _read_csv(directory / "county_seats.csv")
    county_seats[["lon", "lat"]] = county_seats[["lon", "lat"]].astype(float)
    return Units.from_frames(
        counties,
        register,
        villages=_read_csv(directory / "villages.csv"),
        township_seats=seats,
        county_seats=county_seats,
    )


def load_indicators_from_files(directory: Path = PLAN_DIR) -> pd.DataFrame:
    """The indicators a bureau reports and how derived ones are computed (indicators.csv)."""
    return _read_csv(Path(directory) / "indicators.csv")


def load_plan_from_files(directory: Path = PLAN_DIR) -> Plan:
    """The plan tables from CSV files in ``directory`` (``value`` of targets parsed; the
    reported figures as :func:`geo.backends._figures.figures_frame`: rows with a value)."""
    frames = []
    for name in ("targets.csv", "designations.csv", "reported_actuals.csv"):
        path = directory / name
        if not path.exists():
            raise InputError(f"Missing plan table {path}.")
        frames.append(pd.read_csv(path, dtype=str, keep_default_na=False))
    frames[0]["value"] = pd.to_numeric(frames[0]["value"])
    frames[2] = figures_frame(figure_rows(frames[2]))
    return Plan(*frames)
