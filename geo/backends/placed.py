"""The map layer of a shared database: every current site with its point and its assignment.

``current_sites`` is a table (not a view) so that QGIS opens it with no question: an integer
primary key (``fid``), a typed ``geometry(Point, 4326)``. A site without its own coordinates has
the point of its township or county seat and says so in ``location_precision``; the county and
township it counts in, how it was assigned and its flags are the product's own
(:func:`geo.pipeline.assemble_sites`). The PostGIS store rewrites a layer's rows in the same
transaction as every save of that layer, so the table never shows a half-saved registry.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import shapely

from geo.backends._registry import TEXT_COLUMNS, published, records
from geo.boundaries import Units
from geo.pipeline import assemble_sites
from layers.registry import SiteLoad
from layers.schema import LAYERS

FID_BLOCK = 10_000_000  # fid = layer number × FID_BLOCK + position in the layer + 1
ASSIGNED = {
    "county_code": "text NOT NULL DEFAULT ''",
    "county_name": "text NOT NULL DEFAULT ''",
    "township_code": "text NOT NULL DEFAULT ''",
    "township_name": "text NOT NULL DEFAULT ''",
    "township_geometry_source": "text NOT NULL DEFAULT ''",
    "assign_method": "text NOT NULL DEFAULT ''",
    "township_method": "text NOT NULL DEFAULT ''",
    "flags": "text NOT NULL DEFAULT ''",
    "outside_km": "double precision",
}
TEXT = [c for c in TEXT_COLUMNS if c not in ("layer", "location_precision")]
COLUMNS = [
    "fid",
    "layer",
    "ord",
    *TEXT,
    "location_precision",
    "lon",
    "lat",
    "year",
    "is_sample",
    *ASSIGNED,
    "geom",
]


def ddl() -> str:
    """The table (created by ``init``; the store's schema version 2)."""
    text = ",\n".join(f"  \"{c}\" text NOT NULL DEFAULT ''" for c in TEXT)
    assigned = ",\n".join(f'  "{c}" {t}' for c, t in ASSIGNED.items())
    return (
        "CREATE TABLE IF NOT EXISTS current_sites (\n"
        "  fid integer PRIMARY KEY,\n"
        "  layer text NOT NULL,\n"
        "  ord integer NOT NULL,\n"
        f"{text},\n"
        "  location_precision text NOT NULL DEFAULT '',\n"
        "  lon double precision, lat double precision, year integer,\n"
        "  is_sample boolean NOT NULL DEFAULT false,\n"
        f"{assigned},\n"
        "  geom geometry(Point, 4326))"
    )


def fid(layer: str, position: int) -> int:
    return list(LAYERS).index(layer) * FID_BLOCK + position + 1


def current_rows(units: Units, layer: str, frame: pd.DataFrame) -> Iterator[list]:
    """The rows of ``current_sites`` for a layer's saved ``frame``, in COPY column order.

    lon/lat are as published (in ``source_crs``, like the registry); the point is WGS84.
    """
    if frame.empty:
        return
    assigned = assemble_sites(units, bundled=SiteLoad(frame), include_samples=True).assigned
    # assemble_sites keeps the frame's order and rows; the published values come from it
    stored = published(records(frame.reset_index(drop=True)))
    points = assigned.geometry.to_numpy()
    hexes = np.full(len(points), None, dtype=object)
    has = np.array([g is not None for g in points], dtype=bool)
    if has.any():
        hexes[has] = shapely.to_wkb(
            shapely.set_srid(points[has], 4326), hex=True, include_srid=True
        )
    for i, (row, rec) in enumerate(zip(stored, assigned.to_dict("records"), strict=True)):
        outside = rec.get("outside_km")
        yield [
            fid(layer, i),
            layer,
            i,
            *(row[c] for c in TEXT),
            str(rec.get("location_precision") or ""),
            row["lon"],
            row["lat"],
            row["year"],
            row["is_sample"],
            *(str(rec.get(c) or "") for c in ASSIGNED if c != "outside_km"),
            None if outside is None or pd.isna(outside) else float(outside),
            hexes[i],
        ]
