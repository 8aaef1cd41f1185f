"""Attainment: the plan's targets against actuals, at each target's own scope.

A target's actual comes from the mapped layers (``measure = count``), from the plan's own
designations (``designation``) or from the reported-actuals table (``reported``). Status is
``met``, ``behind`` or ``no_data``; "no data" is never shown as zero. Sample records and planned
sites never count toward attainment: only real, sourced, built sites do.

``aggregate = total`` compares the sum over the scope's counties with the value; ``each`` needs
every county in scope to reach the value on its own, and adds one row per county.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pandas as pd

from base.errors import InputError
from geo.boundaries import CITY_CODE, CITY_NAME, Units
from layers.schema import level_counts

# Columns of data/plan/targets.csv, in file order (see data/plan/PROVENANCE.md).
TARGET_COLUMNS = (
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
)
STATUS_ZH = {"met": "已达标", "behind": "未达标", "no_data": "无数据"}

# Units of a count: a city-wide total may be the sum of the counties' figures. A percentage or
# a ratio may not (seven counties at 50 % are not 350 %): without a city figure it is no data.
SUMMABLE_UNITS = frozenset({"家", "个", "名", "县区", "镇"})

# Target → designation kind in designations.csv, for targets the plan meets by designating.
DESIGNATION_OF = {"pilot_counties": "pilot_county", "pilot_towns": "pilot_town"}

RESULT_COLUMNS = [
    "target_id",
    "clause",
    "indicator_zh",
    "indicator_en",
    "scope",
    "scope_code",
    "scope_name",
    "actual",
    "comparator",
    "target",
    "unit",
    "ratio",
    "status",
    "status_zh",
    "deadline",
    "measure",
    "layer",
    "actual_source",
    "source_kind",
    "source_doc",
    "entered_by",
    "entered_at",
    "actual_year",
    "stale",
    "source_line",
    "note",
]


class Plan(NamedTuple):
    """The plan's tables as string frames (``value`` of targets parsed): what attainment reads.

    The store returns one (``geo.loader.load_plan``); tests build their own.
    """

    targets: pd.DataFrame
    designations: pd.DataFrame
    reported: pd.DataFrame


# How each comparator of targets.csv is met. "=" is the plan naming a number to create
# ("全市打造3个…试点县区"): creating 4 still meets it, so it is met from that number up, like ">=".
COMPARATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "=": operator.ge,
}


def meets(actual: float, comparator: str, value: float) -> bool:
    """Whether ``actual`` meets a target of ``value`` with ``comparator`` (see COMPARATORS)."""
    if comparator not in COMPARATORS:
        raise InputError(f"unknown comparator {comparator!r} in the plan's targets")
    return bool(COMPARATORS[comparator](actual, value))


def _status(actual: float | None, comparator: str, value: float) -> str:
    if actual is None or (isinstance(actual, float) and np.isnan(actual)):
        return "no_data"
    return "met" if meets(actual, comparator, value) else "behind"


def _matching_sites(sites: pd.DataFrame, target: pd.Series, *, as_of: int | None) -> pd.DataFrame:
    sel = sites[
        (sites["layer"] == target["layer"])
        & ~sites["is_sample"].astype(bool)
        & sites["status"].ne("planned")
    ]
    subtypes = [s for s in target["subtypes"].split(";") if s]
    if subtypes:
        sel = sel[sel["subtype"].isin(subtypes)]
    if target["min_level"]:
        # astype(bool): on an empty selection apply() returns a str Series, which would
        # select columns instead of rows
        keep = sel["level"].apply(lambda lv: level_counts(lv, target["min_level"]))
        sel = sel[keep.astype(bool)]
    if as_of is not None:
        year = pd.to_numeric(sel["year"], errors="coerce")
        sel = sel[year.isna() | (year <= as_of)]
    return sel


def _city_only(sites: pd.DataFrame) -> pd.Series:
    """Sites known to be in Xining but in no particular county (``location_precision`` city).

    Not sites outside the city or ones that could not be placed: they have no county either,
    but nothing says they are in Xining.
    """
    no_county = sites["county_code"].fillna("") == ""
    return no_county & sites["location_precision"].eq("city")


def _row(spec: pd.Series, **values) -> dict:
    keep = ("target_id", "clause", "indicator_zh", "indicator_en", "scope", "comparator", "unit")
    keep += ("deadline", "measure", "layer", "source_line", "note")
    base = {key: spec[key] for key in keep}
    base.update({"actual_year": None, "stale": False, "source_doc": "", "entered_by": ""})
    base.update({"entered_at": "", "source_kind": "none"})
    base.update(values)
    actual, value = base.get("actual"), base["target"]
    base["status"] = _status(actual, base["comparator"], value)
    base["status_zh"] = STATUS_ZH[base["status"]]
    ok = actual is not None and not (isinstance(actual, float) and np.isnan(actual)) and value
    base["ratio"] = round(float(actual) / float(value), 3) if ok else np.nan
    return base


def _figures(reported: pd.DataFrame, target_id: str, *, as_of: int | None) -> pd.DataFrame:
    """The target's reported figures with a value, of ``as_of`` or earlier."""
    rows = reported[reported["target_id"] == target_id]
    value = pd.to_numeric(rows["value"], errors="coerce")
    period = pd.to_numeric(rows["period"], errors="coerce")
    keep = value.notna() & period.notna()
    if as_of is not None:
        keep &= period <= as_of
    out = rows[keep].copy()
    out["value"], out["period"] = value[keep], period[keep].astype(int)
    return out


def _source(row: pd.Series) -> str:
    who = str(row.get("entered_by") or "")
    when = str(row.get("entered_at") or "")[:10]
    entered = f" (entered by {who}, {when})" if who or when else ""
    kind = "derived" if str(row.get("derived_from") or "") else "reported"
    return f"{kind} {row['period']}: {row['source']}{entered}"


def _provenance(row: pd.Series) -> dict:
    """Where a figure comes from, as fields the page words in its own language."""
    derived = bool(str(row.get("derived_from") or ""))
    return {
        "source_kind": "derived" if derived else "reported",
        "source_doc": str(row["source"]),
        "entered_by": str(row.get("entered_by") or ""),
        "entered_at": str(row.get("entered_at") or "")[:10],
    }


def _reported(
    figures: pd.DataFrame, scope_code: str, *, counties: list[str] | None = None
) -> tuple[float | None, str, int | None, dict]:
    """The latest figure of ``scope_code``: (value, source, year, provenance). For a city-wide
    total, ``counties``: a year in which every county in scope reported counts as their sum
    when the city itself reported nothing newer."""
    own = figures[figures["scope_code"] == scope_code].sort_values("period")
    best = own.iloc[-1] if not own.empty else None
    if counties:
        parts = figures[figures["scope_code"].isin(counties)]
        whole = parts.groupby("period")["scope_code"].nunique()
        years = [int(y) for y, n in whole.items() if n == len(counties)]
        if years and (best is None or max(years) > int(best["period"])):
            year = max(years)
            rows = parts[parts["period"] == year].drop_duplicates("scope_code")
            total = float(rows["value"].sum())
            docs = "; ".join(dict.fromkeys(rows["source"].astype(str)))
            source = f"reported {year}: sum of the {len(counties)} counties' figures ({docs})"
            return total, source, year, {"source_kind": "sum", "source_doc": docs}
    if best is None:
        return None, "", None, {}
    return float(best["value"]), _source(best), int(best["period"]), _provenance(best)


def attainment(
    units: Units,
    sites: pd.DataFrame,
    plan: Plan,
    *,
    as_of: int | None = None,
) -> pd.DataFrame:
    """Every target with actual, ratio and status; ``each`` targets add one row per county.

    ``sites`` are assigned sites (:func:`geo.assign.assign_sites`). ``as_of`` counts only sites
    whose year is known and not later (undated sites count: their existence is sourced), and
    takes for each reported target and scope the latest figure of that year or before
    (``actual_year``; ``stale`` when it is older than ``as_of``).
    """
    targets, designations, reported = plan
    names = units.counties.set_index("code")["name"]
    rows: list[dict] = []
    for _, t in targets.iterrows():
        scope_codes = [c for c in t["scope_counties"].split(";") if c]
        value = float(t["value"])
        if t["measure"] == "count":
            sel = _matching_sites(sites, t, as_of=as_of)
            in_scope = sel[sel["county_code"].isin(scope_codes)]
            if t["aggregate"] == "each":
                per = in_scope["county_code"].value_counts()
                met = 0
                for code in scope_codes:
                    actual = float(per.get(code, 0))
                    met += meets(actual, t["comparator"], value)
                    rows.append(
                        _row(
                            t,
                            scope_code=code,
                            scope_name=names.get(code, code),
                            actual=actual,
                            target=value,
                            actual_source="mapped sites",
                            source_kind="sites",
                        )
                    )
                rows.append(
                    _row(
                        t,
                        scope_code=CITY_CODE,
                        scope_name=f"{CITY_NAME}(达标县区数)",
                        actual=float(met),
                        target=float(len(scope_codes)),
                        unit="县区",
                        actual_source="counties meeting the target",
                        source_kind="counties_met",
                    )
                )
            else:
                count = len(in_scope)
                if t["scope"] == "city":  # city-wide: sites known only to be in Xining count too
                    count += int(_city_only(sel).sum())
                rows.append(
                    _row(
                        t,
                        scope_code=CITY_CODE,
                        scope_name=CITY_NAME,
                        actual=float(count),
                        target=value,
                        actual_source="mapped sites",
                        source_kind="sites",
                    )
                )
        elif t["measure"] == "designation" and t["target_id"] in DESIGNATION_OF:
            kind = DESIGNATION_OF[t["target_id"]]
            actual = float((designations["designation"] == kind).sum())
            rows.append(
                _row(
                    t,
                    scope_code=CITY_CODE,
                    scope_name=CITY_NAME,
                    actual=actual,
                    target=value,
                    actual_source=f"designated by the plan ({kind})",
                    source_kind="designation",
                )
            )
        else:
            figures = _figures(reported, t["target_id"], as_of=as_of)
            each = t["aggregate"] == "each"
            for code in scope_codes if each else [CITY_CODE]:
                summable = not each and t["unit"] in SUMMABLE_UNITS
                actual, source, year, provenance = _reported(
                    figures, code, counties=scope_codes if summable else None
                )
                rows.append(
                    _row(
                        t,
                        scope_code=code,
                        scope_name=CITY_NAME if code == CITY_CODE else names.get(code, code),
                        actual=np.nan if actual is None else actual,
                        target=value,
                        actual_source=source or "no published report found",
                        actual_year=year,
                        stale=bool(year is not None and as_of is not None and year < as_of),
                        **provenance,
                    )
                )
    out = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    out["actual_year"] = pd.array(out["actual_year"], dtype="Int64")
    out["stale"] = out["stale"].astype(bool)
    return out


PLAN_YEARS = tuple(range(2018, 2024))  # the plan ran 2018-09-14 to 2023-09-13


def attainment_by_year(
    units: Units, sites: pd.DataFrame, plan: Plan, *, years: tuple[int, ...] = PLAN_YEARS
) -> pd.DataFrame:
    """:func:`attainment` as of each of ``years``, stacked with a ``year`` column: how far
    each county got, year by year (sites by their year, figures of that year or before)."""
    frames = [attainment(units, sites, plan, as_of=y).assign(year=y) for y in years]
    return pd.concat(frames, ignore_index=True)
