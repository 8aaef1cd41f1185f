"""Derived indicators: computed from the figures bureaus report, never typed in.

``data/plan/indicators.csv`` says which indicators are derived and from what
(``derivation``, ``inputs``):

* ``share``: 100 × first input ÷ second input, same scope and year (the high-tech share of the
  S&T enterprises);
* ``growth``: the average annual growth from ``base_year``'s amount (or the earliest year
  reported after it) to each year, the geometric mean 100 × ((amount ÷ base) ^ (1 ÷ years) − 1),
  same scope: "年均增幅" of fiscal S&T input over the 13th Five-Year Plan, base 2015. Each
  year's own growth is listed in the source. Without a base year: growth on the year before.

Each derived figure says how it was computed (the formula with the figures' values, and their
sources) in ``source``, and from which figures in ``derived_from``, so the attainment table can
show it.
"""

from __future__ import annotations

import itertools
import math

import pandas as pd

DERIVED_COLUMN = "derived_from"


def _numbers(figures: pd.DataFrame) -> pd.DataFrame:
    out = figures.copy()
    out["value"] = pd.to_numeric(out["value"], errors="coerce")
    out["period"] = pd.to_numeric(out["period"], errors="coerce")
    out = out[out["value"].notna() & out["period"].notna()]
    out["period"] = out["period"].astype(int)
    return out


def _fmt(value: float) -> str:
    return f"{value:g}"


def _share(figures: pd.DataFrame, target: str, part: str, whole: str) -> list[dict]:
    keyed = figures.set_index(["target_id", "scope_code", "period"])
    rows = []
    for (scope, year), _ in figures[figures["target_id"] == part].groupby(["scope_code", "period"]):
        if (whole, scope, year) not in keyed.index:
            continue
        a, b = keyed.loc[(part, scope, year)], keyed.loc[(whole, scope, year)]
        if float(b["value"]) <= 0:
            continue
        value = 100.0 * float(a["value"]) / float(b["value"])
        rows.append(
            {
                "target_id": target,
                "period": int(year),
                "scope_code": scope,
                "value": value,
                "source": f"100 × {_fmt(a['value'])} ÷ {_fmt(b['value'])} "
                f"({a['source']}; {b['source']})",
                DERIVED_COLUMN: f"{part};{whole}",
            }
        )
    return rows


def _growth(figures: pd.DataFrame, target: str, amount: str, base_year: int | None) -> list[dict]:
    """Average annual growth to each year from the base year's amount (or the earliest year
    reported after it): the geometric mean; without a base year, growth on the year before."""
    series = figures[figures["target_id"] == amount].set_index(["scope_code", "period"])
    rows = []
    for (scope, year), now in series.iterrows():
        years = sorted(y for s, y in series.index if s == scope and y < year)
        if base_year is not None:
            years = [y for y in years if y >= base_year]
        elif years:
            years = [year - 1] if year - 1 in years else []
        if not years:
            continue
        first = years[0]
        start = series.loc[(scope, first)]
        if float(start["value"]) <= 0 or float(now["value"]) <= 0:
            continue
        n = year - first
        value = 100.0 * (math.pow(float(now["value"]) / float(start["value"]), 1.0 / n) - 1.0)
        between = [
            series.loc[(scope, y), "value"]
            for y in range(first, year + 1)
            if (scope, y) in series.index
        ]
        yearly = [100.0 * (b / a - 1.0) for a, b in itertools.pairwise(between) if a > 0]
        each = ", ".join(f"{g:.1f}%" for g in yearly)
        rows.append(
            {
                "target_id": target,
                "period": int(year),
                "scope_code": scope,
                "value": value,
                "source": f"{first}→{year}: 100 × (({_fmt(now['value'])} ÷ "
                f"{_fmt(start['value'])})^(1/{n}) − 1) [{each}] "
                f"({start['source']}; {now['source']})",
                DERIVED_COLUMN: f"{amount} {first};{amount} {year}",
            }
        )
    return rows


def derive(figures: pd.DataFrame, indicators: pd.DataFrame) -> pd.DataFrame:
    """``figures`` with every derived indicator computed from them (and any figure typed in
    for a derived indicator left out: the computed one is the figure)."""
    numbers = _numbers(figures)
    derived_ids = set(indicators.loc[indicators["derivation"].ne(""), "indicator_id"])
    kept = figures[~figures["target_id"].isin(derived_ids)].copy()
    kept[DERIVED_COLUMN] = ""
    rows: list[dict] = []
    for _, spec in indicators[indicators["derivation"].ne("")].iterrows():
        inputs = [i for i in spec["inputs"].split(";") if i]
        if spec["derivation"] == "share" and len(inputs) == 2:
            rows += _share(numbers, spec["indicator_id"], inputs[0], inputs[1])
        elif spec["derivation"] == "growth" and len(inputs) == 1:
            base = str(spec.get("base_year") or "").strip()
            base_year = int(float(base)) if base else None
            rows += _growth(numbers, spec["indicator_id"], inputs[0], base_year)
    if not rows:
        return kept.reset_index(drop=True)
    extra = pd.DataFrame(rows)
    for col in kept.columns:
        if col not in extra:
            extra[col] = ""
    out = pd.concat([kept, extra[kept.columns]], ignore_index=True)
    return out


def average_growth(
    figures: pd.DataFrame, amount: str, scope_code: str, *, start: int, end: int
) -> float | None:
    """Average annual growth (%) of ``amount`` from ``start`` to ``end``: the geometric mean,
    100 × ((end ÷ start) ^ (1 / years) − 1); None when either year has no positive figure."""
    numbers = _numbers(figures)
    sel = numbers[(numbers["target_id"] == amount) & (numbers["scope_code"] == scope_code)]
    by_year = sel.set_index("period")["value"]
    if end <= start or start not in by_year.index or end not in by_year.index:
        return None
    first, last = float(by_year[start]), float(by_year[end])
    if first <= 0 or last <= 0:
        return None
    return 100.0 * (math.pow(last / first, 1.0 / (end - start)) - 1.0)
