"""Polygon coverages snapped to a grid and simplified, shared borders kept exact.

Assignment and metrics use full-detail geometry. What goes to a map is simplified here; what goes
to a file is snapped to the precision it is written with (:func:`snap_coverage`), so neighbours
still share every edge after rounding and no point can fall into two units or none.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from geo.assign import locate

DISPLAY_GRID = 1e-5  # degrees (~1 m): finer than any screen shows at the map's max zoom
EXPORT_GRID = 1e-6  # degrees (~0.1 m): the 6 decimals of GeoJSON exports


def snap_coverage(units: gpd.GeoDataFrame, *, grid: float = EXPORT_GRID) -> gpd.GeoDataFrame:
    """The polygons of ``units`` rebuilt on ``grid`` as one clean coverage.

    Borders are snapped to the grid and noded together, and each unit is rebuilt from the faces
    they enclose: neighbours share identical vertices, so rounding to the grid opens no gap and
    makes no overlap. Where input polygons overlap, the face goes to the smallest code (the
    border rule of assignment). Units without geometry pass through untouched.
    """
    out = units.copy()
    has = out.geometry.notna() & ~out.geometry.is_empty
    if has.any():
        codes = out["code"].to_numpy() if "code" in out else np.arange(len(out))
        rebuilt = _noded_coverage(out.geometry[has].to_numpy(), codes[has.to_numpy()], grid=grid)
        out.loc[has, out.geometry.name] = rebuilt
    return out


def simplify_units(units: gpd.GeoDataFrame, *, tolerance: float = 0.0005) -> gpd.GeoDataFrame:
    """Simplify a polygon coverage for display, keeping shared borders gap- and overlap-free.

    The borders are first snapped to a 1e-5° grid (~1 m, all the screen can show) and noded
    together, and each unit is rebuilt from the faces they enclose, so neighbours share
    exactly the same vertices (seat-based zones clipped to counties do not, as they come).
    ``coverage_simplify`` then removes vertices from each shared edge once, for both sides,
    and never moves one: the result stays on the grid, with no gap or overlap
    (tests/test_speed_invariants.py). Units without geometry pass through untouched.
    """
    out = snap_coverage(units, grid=DISPLAY_GRID)
    has = out.geometry.notna() & ~out.geometry.is_empty
    if has.any():
        geoms = out.geometry[has].to_numpy()
        out.loc[has, out.geometry.name] = shapely.coverage_simplify(geoms, tolerance)
    return out


def _noded_coverage(geoms: np.ndarray, codes: np.ndarray, *, grid: float) -> np.ndarray:
    """The polygons rebuilt from the faces of their snapped, noded borders.

    A face goes to the polygon that covers a point inside it (the smallest code where they
    overlap, as sites on a shared border), so neighbours get identical shared edges.
    """
    lines = shapely.union_all(shapely.boundary(geoms), grid_size=grid)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(lines)))
    inner = shapely.get_coordinates(shapely.point_on_surface(faces))
    owner, _ = locate(inner[:, 0], inner[:, 1], gpd.GeoSeries(geoms), codes)
    rebuilt = []
    for i, geom in enumerate(geoms):
        part = shapely.coverage_union_all(faces[owner == i]) if (owner == i).any() else None
        if part is not None and part.geom_type == "Polygon" and geom.geom_type == "MultiPolygon":
            part = shapely.MultiPolygon([part])  # keep the type the unit came with
        rebuilt.append(part)
    return np.array(rebuilt, dtype=object)
