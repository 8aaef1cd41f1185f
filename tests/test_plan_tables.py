"""Self-checks for the plan tables in data/plan/ (宁政办〔2018〕132号)."""

import re
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
PLAN = REPO / "data" / "plan"
SEED = PLAN / "source" / "ningzhengban_2018_132.txt"  # the plan text the quotes come from

COUNTIES = {"630102", "630103", "630104", "630105", "630106", "630121", "630123"}
CITY = "630100"
THREE = {"630121", "630106", "630123"}
NAMED5 = {"630121", "630106", "630123", "630103", "630105"}

LAYERS = {
    "park": {
        "high_tech_zone",
        "agri_sci_park",
        "industrial_park",
        "econ_dev_zone",
        "modern_agri_demo",
        "sci_tech_base",
    },
    "incubator": {
        "maker_space",
        "star_space",
        "tech_incubator",
        "startup_park",
        "startup_cafe",
        "univ_science_park",
    },
    "poverty_demo": {"sci_poverty_demo", "industry_poverty_project"},
    "ecommerce": {"county_centre", "village_station", "town_station", "ecommerce_base"},
}
LEVELS = {"national", "provincial", "municipal", "county"}
SCOPES = {"city", "each_county", "named_counties", "three_counties"}
AGGREGATES = {"total", "each"}
MEASURES = {"count", "designation", "reported"}
COMPARATORS = {">=", "="}
DESIGNATIONS = {"pilot_county", "pilot_town", "key_project", "park_county"}

TARGET_COLS = [
    "target_id",
    "clause",
    "source_line",
    "quote",
    "indicator_zh",
    "indicator_en",
    "comparator",
    "value",
    "unit",
    "scope",
    "scope_counties",
    "aggregate",
    "per_year",
    "deadline",
    "layer",
    "subtypes",
    "min_level",
    "measure",
    "note",
]

# (phrase in the seed, number the plan commits to) -> must be a target value whose quote
# contains the phrase.
COVERED_NUMBERS = [
    ("全市打造3個創新驅動試點縣區", 3),
    ("8個試點鎮", 8),
    ("爭取創建1個國家創新型縣和創新型鎮", 1),
    ("公民比例達到7%以上", 7),
    ("年均增幅不低于20%", 20),
    ("縣域科技型企業總量達到82家", 82),
    ("縣域高新技術企業總量達到16家", 16),
    ("占科技型企業20%", 20),
    ("30家以上", 30),
    ("省級農業科技園區總量達到15家以上", 15),
    ("每個產業核心區內打造1—2個", 1),
    ("三縣重點打造1個區域公用品牌", 1),
    ("縣級電子商務服務中心1個", 1),
    ("村級服務站點80個", 80),
    ("電子商務實用人才500名", 500),
    ("每年組織引導150名左右", 150),
    ("創建10家", 10),
    ("組織實施20個產業扶貧示范項目", 20),
    ("示范推廣30個農牧業新品種", 30),
    ("選派300名科技人員", 300),
    ("建立16個科技扶貧示范點", 16),
]

# Arabic numbers in the seed that are deliberately NOT targets: (line, number) -> reason.
EXCLUDED_NUMBERS = {
    (1, "132"): "document number",
    (5, "8"): "issue date",
    (5, "14"): "issue date",
    (8, "43"): "cited document number",
    (8, "6"): "cited document number",
    (25, "2"): "upper bound of 1—2, kept in note of core_parks_per_core_area",
    (29, "3"): "rule: personnel relations kept 3 years, not a target",
    (29, "555"): "programme name 引才聚才555計劃",
    (36, "9"): "validity dates",
    (36, "14"): "validity dates",
    (36, "13"): "validity dates",
}
YEAR = re.compile(r"^(19|20)\d\d$")


def load(name: str) -> pd.DataFrame:
    return pd.read_csv(PLAN / name, dtype=str, keep_default_na=False, encoding="utf-8")


@pytest.fixture(scope="module")
def targets() -> pd.DataFrame:
    return load("targets.csv")


@pytest.fixture(scope="module")
def designations() -> pd.DataFrame:
    return load("designations.csv")


@pytest.fixture(scope="module")
def actuals() -> pd.DataFrame:
    return load("reported_actuals.csv")


@pytest.fixture(scope="module")
def seed_lines() -> list[str]:
    return SEED.read_text(encoding="utf-8").split("\n")


def test_files_are_utf8_without_bom():
    for name in ("targets.csv", "designations.csv", "reported_actuals.csv", "PROVENANCE.md"):
        raw = (PLAN / name).read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf"), name
        raw.decode("utf-8")


def test_target_columns_and_ids(targets):
    assert list(targets.columns) == TARGET_COLS
    assert targets["target_id"].is_unique
    assert targets["target_id"].str.fullmatch(r"[a-z][a-z0-9_]*").all()
    assert (
        (targets[["target_id", "quote", "indicator_zh", "indicator_en", "unit"]] != "").all().all()
    )


def test_target_vocabularies(targets):
    assert set(targets["comparator"]) <= COMPARATORS
    assert set(targets["scope"]) <= SCOPES
    assert set(targets["aggregate"]) <= AGGREGATES
    assert set(targets["measure"]) <= MEASURES
    assert set(targets["per_year"]) <= {"true", "false"}
    assert set(targets["min_level"]) <= LEVELS | {""}
    for _, r in targets.iterrows():
        float(r["value"])
        assert r["deadline"].isdigit() and 2018 <= int(r["deadline"]) <= 2023, r["target_id"]
        assert r["layer"] in set(LAYERS) | {""}, r["target_id"]
        subs = [s for s in r["subtypes"].split(";") if s]
        if r["layer"]:
            assert set(subs) <= LAYERS[r["layer"]], r["target_id"]
            assert r["measure"] == "count", r["target_id"]
        else:
            assert not subs, r["target_id"]
            assert r["measure"] != "count", r["target_id"]


def test_target_scope_counties(targets):
    expected = {"city": COUNTIES, "each_county": COUNTIES, "three_counties": THREE}
    for _, r in targets.iterrows():
        codes = r["scope_counties"].split(";")
        assert len(codes) == len(set(codes)), r["target_id"]
        assert set(codes) <= COUNTIES, r["target_id"]
        if r["scope"] in expected:
            assert set(codes) == expected[r["scope"]], r["target_id"]
        else:
            assert set(codes) == NAMED5, r["target_id"]


def test_quotes_verbatim_on_source_line(targets, designations, seed_lines):
    for df in (targets, designations):
        for _, r in df.iterrows():
            line = seed_lines[int(r["source_line"]) - 1]
            assert r["quote"] in line, (r["source_line"], r["quote"])


def test_clause_is_nearest_marker(targets, designations, seed_lines):
    for df in (targets, designations):
        for _, r in df.iterrows():
            n = int(r["source_line"])
            marker = next(
                s[: s.index(")") + 1]
                for s in reversed(seed_lines[:n])
                if s.startswith("(") and ")" in s[:6]
            )
            assert r["clause"] == marker, (r["source_line"], r["clause"])


def test_covered_numbers_are_target_values(targets):
    for phrase, number in COVERED_NUMBERS:
        hits = targets[targets["quote"].str.contains(phrase, regex=False)]
        assert not hits.empty, phrase
        assert (hits["value"].astype(float) == number).any(), (phrase, number)


def test_covered_phrases_in_seed(seed_lines):
    seed = "\n".join(seed_lines)
    for phrase, _ in COVERED_NUMBERS:
        assert phrase in seed, phrase


def test_every_number_in_quote_is_value_or_noted(targets):
    for _, r in targets.iterrows():
        for n in re.findall(r"\d+", r["quote"]):
            if YEAR.match(n):
                continue
            assert float(n) == float(r["value"]) or n in r["note"], (r["target_id"], n)


def test_every_seed_number_is_covered_or_excluded(targets, seed_lines):
    for i, line in enumerate(seed_lines, start=1):
        for n in re.findall(r"\d+", line):
            if YEAR.match(n) or (i, n) in EXCLUDED_NUMBERS:
                continue
            rows = targets[targets["source_line"] == str(i)]
            vals = {str(int(float(v))) for v in rows["value"]}
            assert n in vals, f"line {i}: number {n} is neither a target value nor excluded"


def test_excluded_numbers_documented():
    prov = (PLAN / "PROVENANCE.md").read_text(encoding="utf-8")
    assert "3年內保留人事關系" in prov
    assert "555" in prov


def test_provenance_lists_every_target(targets):
    prov = (PLAN / "PROVENANCE.md").read_text(encoding="utf-8")
    for tid in targets["target_id"]:
        assert f"`{tid}`" in prov, tid


def test_designations(designations, targets):
    assert set(designations["designation"]) <= DESIGNATIONS
    assert set(designations["county_code"]) <= COUNTIES
    assert set(designations["layer"]) <= set(LAYERS) | {""}
    tc = designations["township_code"]
    assert tc.str.fullmatch(r"(\d{9})?").all()
    towns = designations[designations["designation"] == "pilot_town"]
    assert (towns["township_code"].str[:6] == towns["county_code"]).all()
    counts = designations["designation"].value_counts()
    by_id = targets.set_index("target_id")["value"].astype(float)
    assert counts["pilot_county"] == by_id["pilot_counties"]
    assert counts["pilot_town"] == by_id["pilot_towns"]
    park = set(designations.loc[designations["designation"] == "park_county", "county_code"])
    assert park == NAMED5


def test_reported_actuals(actuals, targets):
    assert list(actuals.columns) == ["target_id", "period", "scope_code", "value", "source", "note"]
    t = targets.set_index("target_id")
    assert set(actuals["target_id"]) <= set(t.index)
    assert set(actuals["scope_code"]) <= COUNTIES | {CITY}
    assert not actuals.duplicated(["target_id", "period", "scope_code"]).any()
    for _, r in actuals.iterrows():
        assert t.loc[r["target_id"], "measure"] in {"reported", "designation"}
        if r["source"] == "":
            # never a 0 standing in for missing data; in fact no value at all without a source
            assert r["value"] == "" or float(r["value"]) != 0, r.to_dict()
            assert r["value"] == "", f"value without a source: {r.to_dict()}"
        if r["value"] == "":
            assert r["note"] == "no published report found" or r["source"] != ""
    # every reported target has at least one row
    reported = set(t.index[t["measure"] == "reported"])
    assert reported <= set(actuals["target_id"])
