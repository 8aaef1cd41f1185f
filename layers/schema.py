"""The four point layers as data: canonical columns, vocabularies and labels.

Behaviour is selected from these tables (layer → subtypes → labels, level order, precision
labels), not from if-chains, so a new subtype is one line here.
"""

from __future__ import annotations

from dataclasses import dataclass

# Canonical registry columns, in file order. ``subtype`` is a controlled key (see LAYERS);
# ``subtype_note`` keeps the source's own wording.
COLUMNS: tuple[str, ...] = (
    "id",
    "name",
    "layer",
    "subtype",
    "subtype_note",
    "level",
    "county",
    "township",
    "village",
    "lon",
    "lat",
    "source_crs",
    "year",
    "source",
    "location_precision",
    "is_sample",
    "status",
    "note",
)


@dataclass(frozen=True)
class Layer:
    key: str
    zh: str
    en: str
    color: str  # fill colour on the map (colour-blind safe palette: Okabe-Ito)
    glyph: str  # a single character drawn in the marker, no icon font needed
    subtypes: dict[str, tuple[str, str]]  # key → (zh, en)
    file: str  # registry file under data/sites/


LAYERS: dict[str, Layer] = {
    layer.key: layer
    for layer in (
        Layer(
            "park",
            "科技园区",
            "Parks",
            "#0072B2",
            "园",
            {
                "high_tech_zone": ("高新技术产业开发区", "High-tech industrial development zone"),
                "econ_dev_zone": ("经济技术开发区", "Economic and technological development zone"),
                "agri_sci_park": ("农业科技园区", "Agricultural science and technology park"),
                "modern_agri_demo": ("现代农业示范园区", "Modern agriculture demonstration park"),
                "industrial_park": ("工业园区", "Industrial park"),
                "sci_tech_base": ("科技成果产业化基地", "Technology commercialisation base"),
            },
            "parks.csv",
        ),
        Layer(
            "incubator",
            "孵化载体",
            "Incubators",
            "#D55E00",
            "孵",
            {
                "maker_space": ("众创空间", "Maker space"),
                "star_space": ("星创天地", "Rural maker space (Star space)"),
                "tech_incubator": ("科技企业孵化器", "Technology business incubator"),
                "startup_park": ("创业园/孵化基地", "Start-up park / incubation base"),
                "startup_cafe": ("创业咖啡/创新工场", "Start-up café / innovation workshop"),
                "univ_science_park": ("大学科技园", "University science park"),
            },
            "incubators.csv",
        ),
        Layer(
            "poverty_demo",
            "科技扶贫示范",
            "Poverty-relief demonstration sites",
            "#009E73",
            "扶",
            {
                "sci_poverty_demo": ("科技扶贫示范点", "S&T poverty-relief demonstration site"),
                "industry_poverty_project": (
                    "产业扶贫示范项目",
                    "Industrial poverty-relief demonstration project",
                ),
            },
            "poverty_demo.csv",
        ),
        Layer(
            "ecommerce",
            "农村电商站点",
            "E-commerce stations",
            "#CC79A7",
            "商",
            {
                "county_centre": ("县级电子商务服务中心", "County e-commerce service centre"),
                "town_station": ("乡镇电子商务服务站", "Township e-commerce station"),
                "village_station": ("村级电子商务服务站点", "Village e-commerce station"),
                "ecommerce_base": ("电子商务示范基地", "E-commerce demonstration base"),
            },
            "ecommerce.csv",
        ),
    )
}

# More words for each subtype, as Chinese registries write them (matched exactly, or as the
# longest word a cell contains: "省级众创空间" → maker_space).
SUBTYPE_WORDS: dict[str, tuple[str, ...]] = {
    "high_tech_zone": ("高新区", "高新技术开发区", "高新技术产业园区"),
    "econ_dev_zone": ("经开区", "经济开发区", "经济技术开发区"),
    "agri_sci_park": ("农业科技园", "农业科技示范园", "农科园"),
    "modern_agri_demo": ("现代农业示范园", "现代农业产业园", "现代农业园区"),
    "industrial_park": ("工业园", "工业集中区", "产业园区"),
    "sci_tech_base": ("科技成果转化基地", "成果转化基地", "产业化基地"),
    "maker_space": ("众创空间", "创客空间", "makerspace", "maker space"),
    "star_space": ("星创天地",),
    "tech_incubator": ("孵化器", "科技孵化器", "企业孵化器", "incubator"),
    "startup_park": ("创业园", "孵化基地", "创业孵化基地", "创业基地", "创业孵化园"),
    "startup_cafe": ("创业咖啡", "创新工场", "创客咖啡"),
    "univ_science_park": ("大学科技园",),
    "sci_poverty_demo": ("科技扶贫示范点", "科技扶贫示范基地", "科技扶贫示范村", "科技扶贫"),
    "industry_poverty_project": ("产业扶贫示范项目", "产业扶贫", "扶贫产业园", "扶贫示范项目"),
    "county_centre": (
        "县级电商服务中心",
        "县级服务中心",
        "电商服务中心",
        "电子商务服务中心",
        "电商运营中心",
    ),
    "town_station": ("乡镇电商服务站", "乡镇服务站", "乡镇站", "乡镇电子商务服务站"),
    "village_station": (
        "村级电商服务站",
        "村级电商服务点",
        "村级服务站",
        "村级服务点",
        "村级站点",
        "村电商服务站",
        "村级电子商务服务站",
    ),
    "ecommerce_base": ("电商示范基地", "电子商务示范基地", "电商产业园", "电子商务产业园"),
}

# Highest first. A target's ``min_level`` counts that level and every level above it.
LEVELS: dict[str, tuple[str, str]] = {
    "national": ("国家级", "National"),
    "provincial": ("省级", "Provincial"),
    "municipal": ("市级", "Municipal"),
    "county": ("县级", "County"),
}
LEVEL_RANK: dict[str, int] = {key: rank for rank, key in enumerate(LEVELS)}

# How a site's point was obtained, most precise first.
PRECISION: dict[str, tuple[str, str]] = {
    "exact": ("精确坐标", "Own coordinates"),
    "village": ("位于所在村(近似)", "At its village (approximate)"),
    "township_seat": ("位于乡镇驻地(近似)", "Placed at its township seat (approximate)"),
    "county_seat": ("位于县区驻地(近似)", "Placed at its county seat (approximate)"),
    "city": ("仅知位于西宁市", "Only known to be in Xining (not mapped)"),
}
# Columns that assignment (geo.assign.assign_sites) adds to a site frame.
ASSIGN_COLUMNS = (
    "county_code",
    "county_name",
    "township_code",
    "township_name",
    "township_geometry_source",
    "assign_method",
    "township_method",
    "flags",
    "outside_km",
)

APPROXIMATE = frozenset({"village", "township_seat", "county_seat"})

SAMPLE_PREFIX = "【示例】"

# Whether a site exists yet. Planned sites are mapped but never count toward attainment.
STATUS: dict[str, tuple[str, str]] = {
    "built": ("已建成", "Built / designated"),
    "planned": ("规划中", "Planned, not confirmed built"),
}


def level_counts(level: str, min_level: str | None) -> bool:
    """Whether a site of ``level`` counts toward a target needing at least ``min_level``."""
    if not min_level:
        return True
    if level not in LEVEL_RANK:
        return False
    return LEVEL_RANK[level] <= LEVEL_RANK[min_level]
