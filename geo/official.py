"""Official township boundaries from a user's file replace the approximate zones.

:func:`load_township_boundaries` reads township polygons (zipped Shapefile, GeoPackage, GeoJSON;
any coordinate system, GBK attributes), matches each feature to a register unit and returns new
:class:`~geo.boundaries.Units` plus a report that says what happened to every feature and unit:

* matching: by code (9- or 12-digit, 2023 or 2016 codes), then by name, short name or historic
  alias within the county (the county from a county column, the code's first six digits, or the
  county the polygon lies in), then, for features with neither, by the one township seat the
  polygon contains. Several features of one unit are merged.
* geometry: reprojected to WGS84 (``.prj``, GeoPackage, GeoJSON ``crs``; with no system declared,
  CGCS2000 Gauss-Krüger is recognised from the values), invalid polygons repaired.
* quality: per county, the gap between the official polygons and the county boundary, the area
  the polygons extend beyond it, and overlaps between township polygons, in km² (UTM 47N).

Units the file covers get ``geometry_source = "official"``; in the counties it touches, the
approximate zones of the remaining units are cut back to the land no official polygon covers, so
no two polygons overlap. Report kinds: ``matched``, ``unmatched_feature``,
``unit_without_polygon``, ``repaired_geometry``, ``gap``, ``overlap``, ``note``.
"""

from __future__ import annotations

import unicodedata

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from base.crs import PROJECTED, WGS84
from base.errors import InputError
from geo.boundaries import Units
from geo.zones import APPROX_SOURCE
from layers.coords import (
    guess_gauss_kruger,
    looks_projected,
    near_xining,
    parse_crs,
    to_wgs84_any,
)
from layers.readers import Source, read_table, source_name
from layers.safety import BOUNDARY_LIMITS, check_time, time_budget

OFFICIAL_SOURCE = "official"
REPORT_COLUMNS = ["kind", "feature", "code", "name", "detail", "area_km2"]
MIN_REPORTED_KM2 = 0.001  # overlaps smaller than 1,000 m² are rounding noise
MIN_ZONE_KM2 = 0.01  # an approximate zone cut back below this is dropped

# Attribute names of the code, name and county, including those of the land surveys (XZQDM ...).
CODE_FIELDS = (
    "code",
    "township_code",
    "xzqdm",
    "xzqhdm",
    "xzdm",
    "jddm",
    "adcode",
    "gb",
    "dm",
    "code12",
    "乡镇代码",
    "区划代码",
    "行政区划代码",
    "代码",
)
NAME_FIELDS = (
    "name",
    "township",
    "township_name",
    "xzqmc",
    "xzqhmc",
    "xzmc",
    "jdmc",
    "mc",
    "乡镇名称",
    "乡镇",
    "乡镇街道",
    "街道",
    "名称",
)
COUNTY_FIELDS = (
    "county",
    "county_name",
    "county_code",
    "qxmc",
    "qxdm",
    "xmc",
    "xdm",
    "县区",
    "区县",
    "所属县区",
    "县",
)

_VALIDITY_WORDS = {
    "self-intersection": "the boundary crosses itself",
    "ring self-intersection": "a ring touches itself",
    "too few points": "a ring has too few points",
    "hole lies outside shell": "a hole lies outside its polygon",
    "nested shells": "polygons are nested",
    "interior is disconnected": "the polygon is cut in two",
    "duplicate rings": "a ring is repeated",
    "nested holes": "holes are nested",
    "invalid coordinate": "a coordinate is not a number",
}


def _field(columns: list[str], candidates: tuple[str, ...]) -> str | None:
    keys = {unicodedata.normalize("NFKC", str(c)).strip().lower(): c for c in columns}
    for cand in candidates:
        if cand in keys:
            return keys[cand]
    return None


def _row(
    kind: str,
    *,
    feature: object = "",
    code: str = "",
    name: str = "",
    detail: str = "",
    area: float = np.nan,
) -> dict:
    return {
        "kind": kind,
        "feature": str(feature),
        "code": code,
        "name": name,
        "detail": detail,
        "area_km2": area,
    }


def _plain_validity(reason: str) -> str:
    head = reason.split("[")[0].strip().lower()
    where = reason[len(head) :].strip() if "[" in reason else ""
    text = _VALIDITY_WORDS.get(head, head)
    return f"{text} {where}".strip()


def _to_wgs84(geoms: np.ndarray, label: str, *, swap: bool = False) -> np.ndarray:
    """Reproject shapely geometries from ``label`` (any system :func:`parse_crs` knows)."""

    def convert(coords: np.ndarray) -> np.ndarray:
        x, y = (coords[:, 1], coords[:, 0]) if swap else (coords[:, 0], coords[:, 1])
        lon, lat = to_wgs84_any(x, y, label)
        return np.column_stack([lon, lat])

    return shapely.transform(shapely.force_2d(geoms), convert)


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry | None:
    """Only the polygon parts of a geometry (make_valid can return lines and points too)."""
    if geom is None or geom.is_empty:
        return None
    parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) in (3, 6)]
    if not parts:
        return None
    merged = shapely.union_all(parts)
    return merged if not merged.is_empty else None


def _km2(geom: shapely.Geometry | None) -> float:
    if geom is None or geom.is_empty:
        return 0.0
    return float(gpd.GeoSeries([geom], crs=WGS84).to_crs(PROJECTED).area.iloc[0] / 1e6)


def _resolve_crs(
    geoms: np.ndarray, file_crs: str | None, declared: str | None, name: str
) -> tuple[str, bool, list[dict]]:
    """The polygons' coordinate system (declared > file > recognised), and whether x/y swap."""
    notes = []
    if declared:
        if file_crs and file_crs != declared:
            notes.append(_row("note", detail=f"the file says {file_crs}; {declared} was declared"))
        return declared, False, notes
    if file_crs:
        return file_crs, False, notes
    valid = geoms[[g is not None and not g.is_empty for g in geoms]]
    if not len(valid):
        return WGS84, False, notes
    centres = shapely.centroid(valid)
    x, y = shapely.get_x(centres), shapely.get_y(centres)
    if not looks_projected(x, y).any():
        notes.append(_row("note", detail="no coordinate system in the file; degrees read as WGS84"))
        return WGS84, False, notes
    guess, swapped = guess_gauss_kruger(x, y)
    if guess is None:
        raise InputError(
            f"{name}: the file does not say its coordinate system (no .prj) and its metres are "
            "not CGCS2000 Gauss-Krüger near Xining; give the system (e.g. --boundaries-crs "
            "EPSG:4543) or include the .prj file.",
            zh=f"{name}: 文件未注明坐标系(没有 .prj), 其米制坐标也不是西宁附近的 CGCS2000 "
            "高斯-克吕格坐标; 请指明坐标系(例如 EPSG:4543)或附上 .prj 文件。",
        )
    notes.append(
        _row(
            "note",
            detail=f"no coordinate system in the file; recognised as {guess}"
            + (" with x and y swapped" if swapped else ""),
        )
    )
    return guess, swapped, notes


def _digits(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip()
    if text.endswith(".0"):
        text = text[:-2]
    return text if text.isdigit() else ""


def load_township_boundaries(
    source: Source,
    *,
    units: Units,
    filename: str | None = None,
    crs: str | None = None,
    layer: str | None = None,
) -> tuple[Units, pd.DataFrame]:
    """Units whose townships take the official polygons in ``source``, and the report.

    ``crs`` declares the file's coordinate system (overrides its ``.prj``); ``layer`` picks a
    GeoPackage layer or one of several shapefiles in a zip. Raises :class:`InputError` when the
    file holds no polygons or matches no township at all, or is past a limit of
    :data:`~layers.safety.BOUNDARY_LIMITS` (size, features, vertices, time).
    """
    with time_budget(source_name(source, filename), seconds=BOUNDARY_LIMITS.seconds):
        return _load(source, units=units, filename=filename, crs=crs, layer=layer)


def _load(
    source: Source, *, units: Units, filename: str | None, crs: str | None, layer: str | None
) -> tuple[Units, pd.DataFrame]:
    """:func:`load_township_boundaries`, inside its time budget."""
    table = read_table(
        source, filename=filename, sheet=layer, limits=BOUNDARY_LIMITS, prefer_geometry="polygon"
    )
    name = table.filename
    if table.geometry is None:
        raise InputError(
            f"{name}: township boundaries need polygons: a zipped Shapefile, a GeoPackage or "
            "GeoJSON.",
            zh=f"{name}: 乡镇界线须是面要素: 压缩的 Shapefile、GeoPackage 或 GeoJSON。",
        )
    report: list[dict] = [_row("note", detail=n) for n in table.notes]
    report += [
        _row("unmatched_feature", feature=b["row"], detail=b["reason"]) for b in table.bad_rows
    ]
    frame = table.frame
    features = frame.index.to_numpy()
    raw = np.array(
        [g if g is not None and not (isinstance(g, float)) else None for g in table.geometry],
        dtype=object,
    )
    declared = parse_crs(crs) if crs else None
    label, swap, notes = _resolve_crs(raw, table.crs, declared, name)
    report += notes
    present = np.array([g is not None and not g.is_empty for g in raw], dtype=bool)
    geoms = np.full(len(raw), None, dtype=object)
    if present.any():
        geoms[present] = _to_wgs84(raw[present], label, swap=swap)

    # Geometry checks and repairs, feature by feature.
    usable = np.zeros(len(geoms), dtype=bool)
    for i, geom in enumerate(geoms):
        check_time()
        feat = features[i]
        if geom is None:
            report.append(
                _row("unmatched_feature", feature=feat, detail="the feature has no geometry")
            )
            continue
        if shapely.get_type_id(geom) not in (3, 6, 7):
            kind = geom.geom_type
            report.append(
                _row("unmatched_feature", feature=feat, detail=f"not an area ({kind}); skipped")
            )
            continue
        if not np.isfinite(shapely.get_coordinates(geom)).all():
            report.append(
                _row(
                    "unmatched_feature",
                    feature=feat,
                    detail="its coordinates cannot be converted to longitude/latitude",
                )
            )
            continue
        if not geom.is_valid:
            why = _plain_validity(shapely.is_valid_reason(geom))
            fixed = _polygonal(shapely.make_valid(geom))
            if fixed is None:
                report.append(
                    _row(
                        "unmatched_feature",
                        feature=feat,
                        detail=f"invalid area ({why}) that could not be repaired",
                    )
                )
                continue
            report.append(
                _row("repaired_geometry", feature=feat, detail=f"invalid polygon ({why}); repaired")
            )
            geom = fixed
        else:
            geom = _polygonal(geom)
            if geom is None:
                report.append(_row("unmatched_feature", feature=feat, detail="no area in it"))
                continue
        geoms[i] = geom
        usable[i] = True
    if usable.any():
        centres = shapely.point_on_surface(geoms[usable])
        if not near_xining(shapely.get_x(centres), shapely.get_y(centres)).any():
            lon, lat = shapely.get_x(centres[0]), shapely.get_y(centres[0])
            raise InputError(
                f"{name}: the polygons are nowhere near Xining (first one at {lon:.3f}, "
                f"{lat:.3f} after reading them as {label}); is the coordinate system right?",
                zh=f"{name}: 这些面要素离西宁很远(按 {label} 读取后, 第一个位于 {lon:.3f}, "
                f"{lat:.3f}); 坐标系是否正确?",
            )

    check_time()
    matches = _match(frame, geoms, usable, units, report)
    if not matches:
        raise InputError(
            f"{name}: no feature matches a township of Xining by code, name or seat. "
            f"Columns found: {list(frame.columns)}",
            zh=f"{name}: 没有要素能按代码、名称或乡镇驻地对应到西宁的乡镇。现有的列: "
            f"{list(frame.columns)}",
        )
    check_time()
    return _apply(matches, geoms, features, units, report)


def _match(
    frame: pd.DataFrame,
    geoms: np.ndarray,
    usable: np.ndarray,
    units: Units,
    report: list[dict],
) -> dict[str, list[tuple[int, str]]]:
    """Register code → [(position, how)] for every usable feature that matches one unit."""
    columns = list(frame.columns)
    code_col = _field(columns, CODE_FIELDS)
    name_col = _field(columns, NAME_FIELDS)
    county_col = _field(columns, COUNTY_FIELDS)
    if code_col is None and name_col is None:
        report.append(
            _row(
                "note",
                detail="no code or name column (XZQDM, XZQMC, 代码, 名称 …): features matched "
                "by the township seat they contain",
            )
        )
    counties = units.counties.reset_index(drop=True)
    tree = shapely.STRtree(counties.geometry.to_numpy())
    seats = units.township_seats.copy()
    seat_pts = shapely.points(seats["lon"].to_numpy(float), seats["lat"].to_numpy(float))
    names = units.townships.set_index("code")["name"]
    matches: dict[str, list[tuple[int, str]]] = {}
    pending_seat: list[int] = []
    for i in np.flatnonzero(usable):
        rec = frame.iloc[i]
        code = _digits(str(rec[code_col])) if code_col else ""
        text = str(rec[name_col]).strip() if name_col else ""
        found, how = [], ""
        if len(code) >= 9 and (len(code) < 12 or code[9:12] == "000"):
            found = units.resolve_township(code[:9])
            how = f"by code {code}"
        if not found and text:
            county = None
            if county_col and str(rec[county_col]).strip():
                county = units.resolve_county(str(rec[county_col]))
            if county is None and len(code) >= 6:
                county = units.resolve_county(code[:6])
            if county is None:
                hit = tree.query(shapely.point_on_surface(geoms[i]), predicate="within")
                if len(hit) == 1:
                    county = str(counties.at[int(hit[0]), "code"])
            found = units.resolve_township(text, county_code=county)
            how = f"by name {text}"
            if len(found) > 1:
                report.append(
                    _row(
                        "unmatched_feature",
                        feature=frame.index[i],
                        code=code,
                        name=text,
                        detail=f"name '{text}' fits several townships ({', '.join(found)}); "
                        "add a code or county column",
                    )
                )
                continue
        if len(found) == 1:
            matches.setdefault(found[0], []).append((i, how))
        elif not code and not text:
            pending_seat.append(i)
        else:
            what = " and ".join(
                p for p in (f"code {code}" if code else "", f"name '{text}'" if text else "") if p
            )
            report.append(
                _row(
                    "unmatched_feature",
                    feature=frame.index[i],
                    code=code,
                    name=text,
                    detail=f"{what} match no township of Xining",
                )
            )
    for i in pending_seat:
        inside = shapely.contains(geoms[i], seat_pts)
        codes = [c for c in seats.loc[inside, "code"] if c not in matches]
        if len(codes) == 1:
            matches.setdefault(codes[0], []).append(
                (i, f"by the seat of {names[codes[0]]} inside it")
            )
        else:
            report.append(
                _row(
                    "unmatched_feature",
                    feature=frame.index[i],
                    detail="no code or name, and it holds "
                    + ("no township seat" if not codes else f"{len(codes)} township seats"),
                )
            )
    return matches


def _apply(
    matches: dict[str, list[tuple[int, str]]],
    geoms: np.ndarray,
    features: np.ndarray,
    units: Units,
    report: list[dict],
) -> tuple[Units, pd.DataFrame]:
    """New units with the matched polygons; report matches, leftovers, gaps and overlaps."""
    reg = units.townships.set_index("code")
    polys = {}
    for code, hits in sorted(matches.items()):
        check_time()
        geom = shapely.union_all([geoms[i] for i, _how in hits])
        polys[code] = geom
        feats = ";".join(str(features[i]) for i, _how in hits)
        detail = hits[0][1] + (f" ({len(hits)} features merged)" if len(hits) > 1 else "")
        report.append(
            _row(
                "matched",
                feature=feats,
                code=code,
                name=str(reg.at[code, "name"]),
                detail=detail,
                area=round(_km2(geom), 3),
            )
        )
    official = gpd.GeoDataFrame({"code": list(polys)}, geometry=list(polys.values()), crs=WGS84)
    out = units.with_township_polygons(official, geometry_source=OFFICIAL_SOURCE)

    # In counties the file touches, cut the remaining approximate zones back to uncovered land.
    touched = sorted({c[:6] for c in polys})
    tw = out.townships
    clipped, emptied = [], []
    for county in touched:
        check_time()
        cover = shapely.union_all(
            tw.loc[
                tw["county_code"].eq(county) & tw["geometry_source"].eq(OFFICIAL_SOURCE)
            ].geometry.to_numpy()
        )
        rest = tw[tw["county_code"].eq(county) & tw["geometry_source"].eq(APPROX_SOURCE)]
        for code, geom in zip(rest["code"], rest.geometry, strict=True):
            left = _polygonal(shapely.difference(geom, cover))
            if left is None or _km2(left) < MIN_ZONE_KM2:
                emptied.append(code)
            else:
                clipped.append((code, left))
    if clipped:
        out = out.with_township_polygons(
            gpd.GeoDataFrame(
                {"code": [c for c, _g in clipped]}, geometry=[g for _c, g in clipped], crs=WGS84
            ),
            geometry_source=APPROX_SOURCE,
        )
    if emptied:
        out = out.with_township_polygons(
            gpd.GeoDataFrame({"code": emptied}, geometry=[None] * len(emptied), crs=WGS84),
            geometry_source="none",
        )
    clipped_codes = {c for c, _g in clipped}
    for rec in out.townships.itertuples(index=False):
        if rec.code in polys:
            continue
        if rec.code in clipped_codes:
            detail = "keeps its approximate zone, cut back to land no official polygon covers"
        elif rec.code in emptied:
            detail = "no polygon (its approximate zone is covered by official polygons)"
        elif rec.geometry_source == APPROX_SOURCE:
            detail = "keeps its approximate zone"
        elif rec.is_statistical:
            detail = "no polygon (a statistical-only unit)"
        else:
            detail = "no polygon"
        report.append(_row("unit_without_polygon", code=rec.code, name=rec.name, detail=detail))
    check_time()
    report += _quality(out, touched)
    frame = pd.DataFrame(report, columns=REPORT_COLUMNS)
    return out, frame


def _quality(units: Units, counties: list[str]) -> list[dict]:
    """Gap, spill beyond the county and overlaps of official polygons, per county (km²)."""
    rows = []
    tw = units.townships
    off = tw[tw["geometry_source"].eq(OFFICIAL_SOURCE)]
    off_m = gpd.GeoSeries(off.geometry.to_numpy(), crs=WGS84).to_crs(PROJECTED).to_numpy()
    counties_m = units.counties.set_index("code").geometry.to_crs(PROJECTED)
    codes = off["code"].to_numpy()
    names = off["name"].to_numpy()
    for county in counties:
        mine = np.array([c.startswith(county) for c in codes])
        county_geom = counties_m[county]
        county_name = units.county_name(county)
        cover = shapely.union_all(off_m[mine])
        gap = shapely.difference(county_geom, cover).area / 1e6
        spill = shapely.difference(cover, county_geom).area / 1e6
        share = 100 * gap / (county_geom.area / 1e6)
        n_units = int(tw["county_code"].eq(county).sum())
        rows.append(
            _row(
                "gap",
                code=county,
                name=county_name,
                detail=f"{gap:.2f} km² ({share:.2f}% of the county) lies in no official township "
                f"polygon ({int(mine.sum())} of {n_units} units have one)",
                area=round(gap, 3),
            )
        )
        if spill >= MIN_REPORTED_KM2:
            rows.append(
                _row(
                    "overlap",
                    code=county,
                    name=county_name,
                    detail=f"official township polygons extend {spill:.2f} km² beyond the county "
                    "boundary",
                    area=round(spill, 3),
                )
            )
    tree = shapely.STRtree(off_m)
    left, right = tree.query(off_m, predicate="intersects")
    for a, b in zip(left, right, strict=True):
        if a >= b:
            continue
        area = shapely.intersection(off_m[a], off_m[b]).area / 1e6
        if area >= MIN_REPORTED_KM2:
            rows.append(
                _row(
                    "overlap",
                    code=f"{codes[a]}/{codes[b]}",
                    name=f"{names[a]} / {names[b]}",
                    detail=f"the polygons of {names[a]} and {names[b]} overlap by {area:.3f} km²",
                    area=round(area, 3),
                )
            )
    return rows


def report_lines(report: pd.DataFrame) -> list[str]:
    """The boundary report as lines for the command line (matches summarised, the rest listed)."""
    n_matched = int(report["kind"].eq("matched").sum())
    lines = [f"boundaries: {n_matched} township(s) matched"]
    for r in report[report["kind"].ne("matched")].itertuples(index=False):
        where = f"feature {r.feature}" if r.feature else ""
        who = " ".join(p for p in (where, r.code, r.name) if p)
        lines.append(f"boundaries {r.kind}: {who + ': ' if who else ''}{r.detail}")
    return lines
