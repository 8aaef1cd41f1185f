"""Display simplification of a polygon coverage: fewer vertices, shared borders kept exact.

Assignment and metrics use full-detail geometry; only what goes to a map is simplified here.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from geo.assign import locate

DISPLAY_GRID = 1e-5  # degrees (~1 m): finer than any screen shows at the map's max zoom


def simplify_units(units: gpd.GeoDataFrame, *, tolerance: float = 0.0005) -> gpd.GeoDataFrame:
    """Simplify a polygon coverage for display, keeping shared borders gap- and overlap-free.

    The borders are first snapped to a 1e-5° grid (~1 m, all the screen can show) and noded
    together, and each unit is rebuilt from the faces they enclose, so neighbours share
    exactly the same vertices (seat-based zones clipped to counties do not, as they come).
    ``coverage_simplify`` then removes vertices from each shared edge once, for both sides,
    and never moves one: the result stays on the grid, with no gap or overlap
    (tests/test_speed_invariants.py). Units without geometry pass through untouched.
    """
    out = units.copy()
    has = out.geometry.notna() & ~out.geometry.is_empty
    if has.any():
        codes = out["code"].to_numpy() if "code" in out else np.arange(len(out))
        noded = _noded_coverage(out.geometry[has].to_numpy(), codes[has.to_numpy()])
        out.loc[has, out.geometry.name] = shapely.coverage_simplify(noded, tolerance)
    return out


def _noded_coverage(geoms: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """The polygons rebuilt from the faces of their snapped, noded borders.

    A face goes to the polygon that covers a point inside it (the smallest code where they
    overlap, as sites on a shared border), so neighbours get identical shared edges.
    """
    lines = shapely.union_all(shapely.boundary(geoms), grid_size=DISPLAY_GRID)
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
