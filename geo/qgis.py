"""A QGIS project for analysts: the map's units, townships and site layers, styled like the map.

:func:`qgis_project` writes two files that travel together: ``NAME.gpkg`` (GeoPackage 1.2, one
layer per map layer, WGS84) and ``NAME.qgz`` (a zipped QGIS 3 project pointing at the GeoPackage
by a relative path). The choropleth uses the map's own classes: each unit carries its class label
(``legend_class``) and the project colours it with the legend's colour, so QGIS shows the same
classes, colours and words as the dashboard. Site layers use the layers' colours, hollow where
a site is placed at a seat (approximate). Text in the project is XML-escaped.
"""

from __future__ import annotations

import io
import tempfile
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import geopandas as gpd
import pyogrio

from base.crs import WGS84
from geo.export import GPKG_VERSION, clean_for_gdal
from layers.schema import APPROXIMATE, LAYERS

QGIS_VERSION = "3.22.16-Białowieża"  # the format written; newer QGIS reads it as well
FONT = "Noto Sans CJK SC"
SITE_FIELDS = (
    "id",
    "name",
    "subtype",
    "level",
    "county_name",
    "township_name",
    "village",
    "year",
    "status",
    "location_precision",
    "is_sample",
    "source",
    "flags",
)
_WGS84_WKT = (
    'GEOGCRS["WGS 84",ENSEMBLE["World Geodetic System 1984 ensemble",MEMBER["World Geodetic S'
    'ystem 1984 (Transit)"],MEMBER["World Geodetic System 1984 (G730)"],MEMBER["World Geodeti'
    'c System 1984 (G873)"],MEMBER["World Geodetic System 1984 (G1150)"],MEMBER["World Geodet'
    'ic System 1984 (G1674)"],MEMBER["World Geodetic System 1984 (G1762)"],MEMBER["World Geod'
    'etic System 1984 (G2139)"],ELLIPSOID["WGS 84",6378137,298.257223563,LENGTHUNIT["metre",1'
    ']],ENSEMBLEACCURACY[2.0]],PRIMEM["Greenwich",0,ANGLEUNIT["degree",0.0174532925199433]],C'
    'S[ellipsoidal,2],AXIS["geodetic latitude (Lat)",north,ORDER[1],ANGLEUNIT["degree",0.0174'
    '532925199433]],AXIS["geodetic longitude (Lon)",east,ORDER[2],ANGLEUNIT["degree",0.017453'
    '2925199433]],USAGE[SCOPE["Horizontal component of 3D system."],AREA["World."],BBOX[-90,-'
    '180,90,180]],ID["EPSG",4326]]'
)
_WGS84_SRS = f"""<spatialrefsys>
  <wkt>{_WGS84_WKT}</wkt>
  <proj4>+proj=longlat +datum=WGS84 +no_defs</proj4>
  <srsid>3452</srsid>
  <srid>4326</srid>
  <authid>EPSG:4326</authid>
  <description>WGS 84</description>
  <projectionacronym>longlat</projectionacronym>
  <ellipsoidacronym>EPSG:7030</ellipsoidacronym>
  <geographicflag>true</geographicflag>
</spatialrefsys>"""
WORDS = {
    "zh": {
        "title": "西宁市县域创新驱动发展地图",
        "townships": "乡镇（街道）",
        "approx": "近似位置",
        "exact": "精确坐标",
    },
    "en": {
        "title": "Xining county innovation map",
        "townships": "Townships",
        "approx": "Approximate location",
        "exact": "Own coordinates",
    },
}


@dataclass(frozen=True)
class QgisFiles:
    """The project and the GeoPackage it points at, to be written side by side."""

    name: str
    project: bytes  # NAME.qgz
    geopackage: bytes  # NAME.gpkg

    def write(self, directory: Path) -> tuple[Path, Path]:
        """Write both files into ``directory``; returns (project, geopackage) paths."""
        directory.mkdir(parents=True, exist_ok=True)
        qgz, gpkg = directory / f"{self.name}.qgz", directory / f"{self.name}.gpkg"
        pairs = [(gpkg, self.geopackage), (qgz, self.project)]
        parts = [path.with_name(f".{path.name}.part") for path, _ in pairs]
        try:  # both written in full before either replaces an older copy
            for part, (_, data) in zip(parts, pairs, strict=True):
                part.write_bytes(data)
            for part, (path, _) in zip(parts, pairs, strict=True):
                part.replace(path)
        finally:
            for part in parts:
                part.unlink(missing_ok=True)
        return qgz, gpkg

    def zip(self) -> bytes:
        """Both files in one ZIP (a download): unpack and open the .qgz."""
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(f"{self.name}.qgz", self.project)
            archive.writestr(f"{self.name}.gpkg", self.geopackage)
        return buf.getvalue()


def _rgba(colour: str, alpha: int = 255) -> str:
    colour = colour.lstrip("#")
    r, g, b = (int(colour[i : i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},{alpha}"


def _options(props: dict[str, str]) -> str:
    inner = "".join(
        f'<Option name={quoteattr(k)} type="QString" value={quoteattr(str(v))}/>'
        for k, v in props.items()
    )
    return f'<Option type="Map">{inner}</Option>'


def _fill_symbol(name: str, colour: str, *, outline: str, width: float, no_fill=False) -> str:
    props = {
        "color": _rgba(colour, 0 if no_fill else 255),
        "style": "no" if no_fill else "solid",
        "outline_color": _rgba(outline),
        "outline_style": "solid",
        "outline_width": f"{width}",
        "outline_width_unit": "MM",
        "joinstyle": "round",
    }
    return (
        f'<symbol type="fill" name={quoteattr(name)} alpha="1" clip_to_extent="1" '
        f'force_rhr="0"><layer class="SimpleFill" enabled="1" locked="0" pass="0">'
        f"{_options(props)}</layer></symbol>"
    )


def _marker_symbol(name: str, colour: str, *, hollow: bool) -> str:
    props = {
        "name": "circle",
        "color": _rgba("#ffffff" if hollow else colour),
        "outline_color": _rgba(colour if hollow else "#ffffff"),
        "outline_style": "solid",
        "outline_width": "0.6" if hollow else "0.3",
        "outline_width_unit": "MM",
        "size": "3.2",
        "size_unit": "MM",
    }
    return (
        f'<symbol type="marker" name={quoteattr(name)} alpha="1" clip_to_extent="1" '
        f'force_rhr="0"><layer class="SimpleMarker" enabled="1" locked="0" pass="0">'
        f"{_options(props)}</layer></symbol>"
    )


def _categorized(field: str, categories: Sequence[tuple[str, str, str]]) -> str:
    """(value, label, symbol xml) per category, in legend order."""
    cats = "".join(
        f'<category render="true" symbol="{i}" value={quoteattr(v)} label={quoteattr(label)}/>'
        for i, (v, label, _) in enumerate(categories)
    )
    symbols = "".join(symbol for _, _, symbol in categories)
    return (
        f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(field)} symbollevels="0" '
        f'enableorderby="0" forceraster="0" referencescale="-1">'
        f"<categories>{cats}</categories><symbols>{symbols}</symbols></renderer-v2>"
    )


def _single(symbol: str) -> str:
    return (
        '<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" forceraster="0" '
        f'referencescale="-1"><symbols>{symbol}</symbols></renderer-v2>'
    )


def _labels(field: str, size: float) -> str:
    return (
        '<labeling type="simple"><settings calloutType="simple">'
        f'<text-style fieldName={quoteattr(field)} isExpression="0" fontFamily="{FONT}" '
        f'fontSize="{size}" fontSizeUnit="Point" textColor="27,27,27,255" textOpacity="1" '
        'fontWeight="75" namedStyle="Bold">'
        '<text-buffer bufferDraw="1" bufferSize="1" bufferSizeUnits="MM" '
        'bufferColor="255,255,255,255" bufferOpacity="0.9"/></text-style>'
        '<placement placement="1" dist="0" priority="5"/>'
        '<rendering obstacle="1" displayAll="0" upsidedownLabels="0"/>'
        "</settings></labeling>"
    )


@dataclass(frozen=True)
class _Layer:
    key: str  # GeoPackage layer name
    title: str  # what QGIS shows in the layers panel and legend
    geometry: str  # Polygon | Point
    wkb: str  # MultiPolygon | Point
    renderer: str
    labeling: str = ""


def _maplayer(layer: _Layer, gpkg_name: str, layer_id: str) -> str:
    source = f"./{gpkg_name}|layername={layer.key}"
    labels_on = "1" if layer.labeling else "0"
    return (
        f'<maplayer type="vector" geometry="{layer.geometry}" wkbType="{layer.wkb}" '
        f'labelsEnabled="{labels_on}" hasScaleBasedVisibilityFlag="0" readOnly="0">'
        f"<id>{escape(layer_id)}</id><datasource>{escape(source)}</datasource>"
        f"<layername>{escape(layer.title)}</layername>"
        f"<srs>{_WGS84_SRS}</srs>"
        '<provider encoding="UTF-8">ogr</provider>'
        f"{layer.renderer}{layer.labeling}"
        "<blendMode>0</blendMode><featureBlendMode>0</featureBlendMode>"
        "<layerOpacity>1</layerOpacity></maplayer>"
    )


def _project_xml(title: str, layers: Sequence[_Layer], gpkg_name: str) -> str:
    ids = {
        layer.key: f"{layer.key}_{uuid.uuid5(uuid.NAMESPACE_URL, title + layer.key).hex}"
        for layer in layers
    }
    tree = "".join(
        f'<layer-tree-layer expanded="1" checked="Qt::Checked" id={quoteattr(ids[x.key])} '
        f"name={quoteattr(x.title)} source={quoteattr(f'./{gpkg_name}|layername={x.key}')} "
        'providerKey="ogr"><customproperties/></layer-tree-layer>'
        for x in layers
    )
    body = "".join(_maplayer(x, gpkg_name, ids[x.key]) for x in layers)
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        f"<qgis projectname={quoteattr(title)} version={quoteattr(QGIS_VERSION)}>"
        f'<homePath path=""/><title>{escape(title)}</title>'
        f"<projectCrs>{_WGS84_SRS}</projectCrs>"
        f"<layer-tree-group><customproperties/>{tree}</layer-tree-group>"
        f"<projectlayers>{body}</projectlayers>"
        '<properties><Paths><Absolute type="bool">false</Absolute></Paths>'
        '<SpatialRefSys><ProjectionsEnabled type="int">1</ProjectionsEnabled></SpatialRefSys>'
        "</properties>"
        "</qgis>\n"
    )


def _site_frame(sites: gpd.GeoDataFrame, layer: str) -> gpd.GeoDataFrame:
    rows = sites[(sites["layer"] == layer) & sites.geometry.notna()]
    cols = [c for c in SITE_FIELDS if c in rows.columns]
    out = gpd.GeoDataFrame(rows[cols].copy(), geometry=rows.geometry.to_numpy(), crs=WGS84)
    out["is_sample"] = out["is_sample"].astype(bool) if "is_sample" in out else False
    out["approx"] = out["location_precision"].isin(APPROXIMATE).astype(int)
    return out


def qgis_project(
    units: gpd.GeoDataFrame,
    *,
    legend: Sequence[tuple[str, str]],
    legend_title: str,
    sites: gpd.GeoDataFrame,
    townships: gpd.GeoDataFrame | None = None,
    lang: str = "zh",
    name: str = "西宁创新地图",
    title: str = "",
) -> QgisFiles:
    """The project and GeoPackage for a choropleth of ``units`` and the mapped ``sites``.

    ``units`` carry ``code``, ``name``, ``fill`` (the map's colour of each unit) and whatever
    metric columns should travel along; ``legend`` is the map's (colour, label) rows, so each
    unit's class label is the label of its colour. ``townships`` (optional) are drawn as
    outlines. ``sites`` are assigned sites; those with a point are written, one layer per
    site layer, with their precision.
    """
    words = WORDS.get(lang, WORDS["zh"])
    title = title or words["title"]
    label_of = {colour.lower(): label for colour, label in legend}
    choropleth = units[units.geometry.notna()].copy()
    choropleth["legend_class"] = [label_of.get(str(c).lower(), "") for c in choropleth["fill"]]
    frames: dict[str, gpd.GeoDataFrame] = {"units": gpd.GeoDataFrame(choropleth, crs=WGS84)}
    fills = [
        (label, label, _fill_symbol(str(i), colour, outline="#ffffff", width=0.5))
        for i, (colour, label) in enumerate(legend)
    ]
    layers = [
        _Layer(
            "units",
            legend_title,
            "Polygon",
            "MultiPolygon",
            _categorized("legend_class", fills),
            _labels("name", 11),
        )
    ]
    if townships is not None and townships.geometry.notna().any():
        towns = townships[townships.geometry.notna()]
        keep = [c for c in ("code", "name", "county_name", "geometry_source") if c in towns]
        frames["townships"] = gpd.GeoDataFrame(towns[keep], geometry=towns.geometry, crs=WGS84)
        outline = _fill_symbol("0", "#000000", outline="#6e6e6e", width=0.3, no_fill=True)
        layers.append(
            _Layer(
                "townships",
                words["townships"],
                "Polygon",
                "MultiPolygon",
                _single(outline),
                _labels("name", 8),
            )
        )
    for key, spec in LAYERS.items():
        frame = _site_frame(sites, key)
        if frame.empty:
            continue
        frames[key] = frame
        markers = [
            ("0", words["exact"], _marker_symbol("0", spec.color, hollow=False)),
            ("1", words["approx"], _marker_symbol("1", spec.color, hollow=True)),
        ]
        title_of = spec.en if lang == "en" else spec.zh
        layers.append(_Layer(key, title_of, "Point", "Point", _categorized("approx", markers)))
    # QGIS draws the first layer of the tree on top: sites, then townships, then the units
    points = [x for x in layers if x.geometry == "Point"]
    order = [*points, *(x for x in layers if x.key == "townships"), layers[0]]
    gpkg = _geopackage(frames)
    qgs = _project_xml(title, order, f"{name}.gpkg")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{name}.qgs", qgs.encode("utf-8"))
    return QgisFiles(name=name, project=buf.getvalue(), geopackage=gpkg)


def _geopackage(frames: dict[str, gpd.GeoDataFrame]) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "project.gpkg"
        for i, (layer, frame) in enumerate(frames.items()):
            pyogrio.write_dataframe(
                clean_for_gdal(frame),
                path,
                driver="GPKG",
                layer=layer,
                append=i > 0,
                dataset_options={"VERSION": GPKG_VERSION} if i == 0 else None,
            )
        return path.read_bytes()


__all__ = ["QgisFiles", "qgis_project"]
