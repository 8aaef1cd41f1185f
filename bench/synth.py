"""Synthetic, deterministic inputs: sites over Xining and a country-sized tessellation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from geo.boundaries import Units
from layers.schema import COLUMNS

# A China-sized lon/lat extent for the country case (degrees; the tessellation is planar).
COUNTRY_EXTENT = (73.0, 18.0, 135.0, 53.0)


def xining_points(units: Units, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points spread over Xining: 99 % uniform inside the city, 0.5 % exactly on unit
    borders (vertices and edge midpoints of counties and township zones, where the
    smallest-code rule decides), 0.5 % outside the city but near it."""
    rng = np.random.default_rng(seed)
    city = units.counties.union_all()
    shapely.prepare(city)
    x0, y0, x1, y1 = city.bounds
    n_border = n // 200
    n_out = n // 200
    n_in = n - n_border - n_out

    def sample(k: int, inside: bool, pad: float) -> np.ndarray:
        got: list[np.ndarray] = []
        have = 0
        while have < k:
            m = int((k - have) * 2.2) + 16
            px = rng.uniform(x0 - pad, x1 + pad, m)
            py = rng.uniform(y0 - pad, y1 + pad, m)
            keep = shapely.intersects_xy(city, px, py) == inside
            got.append(np.column_stack([px[keep], py[keep]]))
            have += int(keep.sum())
        return np.concatenate(got)[:k]

    polys = np.concatenate(
        [units.counties.geometry.to_numpy(), units.townships.geometry.dropna().to_numpy()]
    )
    rings = shapely.get_rings(shapely.get_parts(polys))
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[1:] == ring[:-1]
    mids = (coords[:-1][same] + coords[1:][same]) / 2
    on_border = np.concatenate([coords, mids])
    border = on_border[rng.integers(0, len(on_border), n_border)]
    pts = np.concatenate([sample(n_in, True, 0.0), border, sample(n_out, False, 0.3)])
    pts = pts[rng.permutation(len(pts))]
    return np.ascontiguousarray(pts[:, 0]), np.ascontiguousarray(pts[:, 1])


def xining_registry(units: Units, n: int, seed: int = 0) -> pd.DataFrame:
    """A village e-commerce station registry of ``n`` rows in the canonical schema: 80 % with
    coordinates (:func:`xining_points`), 20 % without, stating their village and township
    (placed at the township seat, as most real registries are)."""
    rng = np.random.default_rng(seed)
    x, y = xining_points(units, n, seed)
    villages = units.villages.reset_index(drop=True)
    towns = units.townships.set_index("code")
    pick = villages.iloc[rng.integers(0, len(villages), n)]
    frame = pd.DataFrame({c: [""] * n for c in COLUMNS})
    frame["id"] = [f"B{i:07d}" for i in range(n)]
    frame["name"] = [f"{v}电商服务站{i % 97}" for i, v in enumerate(pick["name"])]
    frame["layer"] = "ecommerce"
    frame["subtype"] = "village_station"
    frame["level"] = "county"
    frame["source"] = "synthetic benchmark registry (bench/synth.py)"
    frame["status"] = "built"
    frame["is_sample"] = False
    frame["year"] = pd.array(rng.integers(2015, 2025, n), dtype="Int64")
    frame["source_crs"] = "WGS84"
    stated = rng.random(n) < 0.2
    frame["lon"] = np.where(stated, np.nan, x)
    frame["lat"] = np.where(stated, np.nan, y)
    frame["location_precision"] = np.where(stated, "", "exact")
    frame["village"] = np.where(stated, pick["name"].to_numpy(), "")
    tcode = pick["township_code"].to_numpy()
    names = towns["name"].reindex(tcode).fillna("").to_numpy()
    county_names = towns["county_name"].reindex(tcode).fillna("").to_numpy()
    frame["township"] = np.where(stated, names, "")
    frame["county"] = np.where(stated, county_names, "")
    frame["file"] = "bench.csv"
    frame["row"] = np.arange(2, n + 2)
    return frame


def country_polygons(n: int, seed: int = 1) -> np.ndarray:
    """A tessellation of :data:`COUNTRY_EXTENT` into ``n`` Voronoi cells of random seeds
    (township-like units: no gaps, no overlaps, shared borders, ~7 vertices each)."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = COUNTRY_EXTENT
    seeds = np.column_stack([rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)])
    box = shapely.box(x0, y0, x1, y1)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=box))
    return shapely.intersection(cells, box)


def country_points(n: int, seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = COUNTRY_EXTENT
    return rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)
