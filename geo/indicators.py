"""Derived indicators: computed from the figures bureaus report, never typed in.

``data/plan/indicators.csv`` says which indicators are derived and from what
(``derivation``, ``inputs``):

* ``share``: 100 × first input ÷ second input, same scope and year (the high-tech share of the
  S&T enterprises);
* ``growth``: 100 × (amount ÷ the previous year's amount − 1), same scope (the yearly growth of
  fiscal S&T input). :func:`average_growth` gives the period's average annual growth (the
  geometric mean).

Each derived figure says how it was computed (the formula with the figures' values, and their
sources) in ``source``, and from which figures in ``derived_from``, so the attainment table can
show it.
"""

from __future__ import annotations

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


def _growth(figures: pd.DataFrame, target: str, amount: str) -> list[dict]:
    series = figures[figures["target_id"] == amount].set_index(["scope_code", "period"])
    rows = []
    for (scope, year), now in series.iterrows():
        if (scope, year - 1) not in series.index:
            continue
        before = series.loc[(scope, year - 1)]
        if float(before["value"]) <= 0:
            continue
        value = 100.0 * (float(now["value"]) / float(before["value"]) - 1.0)
        rows.append(
            {
                "target_id": target,
                "period": int(year),
                "scope_code": scope,
                "value": value,
                "source": f"100 × ({_fmt(now['value'])} ÷ {_fmt(before['value'])} − 1) "
                f"({now['source']}; {before['source']})",
                DERIVED_COLUMN: f"{amount} {year - 1};{amount} {year}",
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
            rows += _growth(numbers, spec["indicator_id"], inputs[0])
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
