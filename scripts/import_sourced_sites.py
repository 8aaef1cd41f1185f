"""Convert ../shared/data/sites/sites_sourced.csv into the per-layer registries in data/sites/.

Usage: python scripts/import_sourced_sites.py [--source PATH]

The source's free-text sub-type is kept in ``subtype_note``; the controlled ``subtype`` key is
chosen by the keyword rules below (first match wins), so the mapping is reviewable in one place.
Coordinates are kept as published (``source_crs``); the loader converts them to WGS84.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo.export import to_csv  # noqa: E402
from layers.schema import COLUMNS, LAYERS  # noqa: E402

OUT = ROOT / "data" / "sites"

# (layer, regex on the source sub-type text, subtype key): first match wins.
SUBTYPE_RULES: list[tuple[str, str, str]] = [
    ("park", r"高新技术产业开发区", "high_tech_zone"),
    ("park", r"经济技术开发区", "econ_dev_zone"),
    ("park", r"农业科技园区|农业科技示范园", "agri_sci_park"),
    ("park", r"科技成果产业化基地", "sci_tech_base"),
    ("park", r"现代农业示范园|设施农业|休闲农业", "modern_agri_demo"),
    ("park", r"工业园区", "industrial_park"),
    ("incubator", r"大学科技园", "univ_science_park"),
    ("incubator", r"科技企业孵化器", "tech_incubator"),
    ("incubator", r"众创空间", "maker_space"),
    ("incubator", r"星创天地", "star_space"),
    ("incubator", r"咖啡|创新工场", "startup_cafe"),
    ("incubator", r"孵化|创业园|实践基地|创新创业服务平台", "startup_park"),
    ("ecommerce", r"示范基地", "ecommerce_base"),
    ("ecommerce", r"村镇|乡镇", "town_station"),
    ("ecommerce", r"配送中心|服务平台|服务中心", "county_centre"),
    # "非科技扶贫示范" (explicitly not an S&T demonstration) must not match the S&T rule.
    ("poverty_demo", r"^(?!.*非科技扶贫).*科技扶贫示范", "sci_poverty_demo"),
    ("poverty_demo", r"扶贫", "industry_poverty_project"),
]

# Places the source does not state but the 2023 statistical register does: these parks are the
# statistical units of the same name (东川工业园 630102400 lies in 城东区).
REGISTER_PLACES = {
    "东川工业园区": (
        "城东区",
        "东川工业园",
        "county and township from the 2023 register unit 东川工业园 (630102400)",
    ),
}
# A site spread over several places, or not tied to one county, is kept at city level.
CITY_LEVEL_NOTE = "source names no county; only known to be in Xining, not mapped"

ID_PREFIX = {"park": "P", "incubator": "I", "poverty_demo": "D", "ecommerce": "E"}


def subtype_for(layer: str, text: str) -> str:
    for rule_layer, pattern, key in SUBTYPE_RULES:
        if rule_layer == layer and re.search(pattern, text):
            return key
    raise SystemExit(f"no subtype rule for {layer}: {text}")


def convert(source: Path) -> dict[str, pd.DataFrame]:
    src = pd.read_csv(source, dtype=str, keep_default_na=False)
    rows: dict[str, list[dict]] = {key: [] for key in LAYERS}
    for rec in src.itertuples(index=False):
        layer = rec.type
        county, township, village, notes = rec.county, rec.township, "", []
        township = re.sub(r"\(乡级统计单元\)$", "", township)
        match = re.fullmatch(r"(.+?)\((.+村)\)", township)
        if match:
            township, village = match.groups()
        if "/" in township:
            notes.append(f"spans several townships: {township}")
            township = ""
        if rec.name in REGISTER_PLACES:
            county, township, why = REGISTER_PLACES[rec.name]
            notes.append(why)
        precision = ""
        if not (county or township or rec.lon):
            precision = "city"
            notes.append(CITY_LEVEL_NOTE)
        status = (
            "planned" if re.search(r"规划\)|规划建设|\(规划", rec.name + rec.subtype) else "built"
        )
        if status == "planned":
            notes.append("planned (规划) in the source; not confirmed built")
        n = len(rows[layer]) + 1
        rows[layer].append(
            {
                "id": f"{ID_PREFIX[layer]}{n:03d}",
                "name": rec.name,
                "layer": layer,
                "subtype": subtype_for(layer, rec.subtype),
                "subtype_note": rec.subtype,
                "level": rec.level,
                "county": county,
                "township": township,
                "village": village,
                "lon": rec.lon,
                "lat": rec.lat,
                "source_crs": rec.crs if rec.lon else "",
                "year": rec.year,
                "source": rec.source,
                "location_precision": precision,
                "is_sample": "false",
                "status": status,
                "note": "; ".join(notes),
            }
        )
    return {key: pd.DataFrame(recs, columns=list(COLUMNS)) for key, recs in rows.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--source",
        type=Path,
        default=ROOT.parent / "shared" / "data" / "sites" / "sites_sourced.csv",
    )
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for key, frame in convert(args.source).items():
        (OUT / LAYERS[key].file).write_bytes(to_csv(frame))  # as the store writes it
        print(f"{LAYERS[key].file}: {len(frame)} sites")


if __name__ == "__main__":
    main()
