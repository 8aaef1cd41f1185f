"""The validation report of uploaded registries: what was used, what was not, and why.

Reading (:func:`layers.registry.read_sites`) rejects rows that cannot be sites at all. Two more
reasons only appear once rows are placed on the map (:mod:`geo.assign`): a point **outside
Xining**, and a row with no coordinate whose county, township or village is not found
(**cannot place it**). Assignment keeps such rows, flagged (the ``assign`` output lists them);
the report counts them as rejected, because they reach no county or township. So, per upload::

    rows read = accepted + rejected      (rejected = rejected on reading + outside + unplaced)

Report columns: ``file``, ``row`` (as the user sees it), ``column``, ``outcome`` (``rejected``
or ``warning``), ``reason`` (plain English, shown in the app) and ``value``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from base.crs import WGS84
from geo.export import to_csv
from layers.registry import REJECT_COLUMNS, SiteLoad

REPORT_COLUMNS = ["file", "row", "column", "outcome", "reason", "value"]
REJECTED, WARNING = "rejected", "warning"


def _flags(value: object) -> list[str]:
    return [f for f in str(value or "").split(";") if f]


def _unplaced_reasons(rows: pd.DataFrame) -> pd.DataFrame:
    """Column, reason and value for rows with no coordinate whose place was not found."""
    out = []
    for rec in rows.itertuples(index=False):  # few rows: the unplaced ones only
        flags = _flags(rec.flags)
        parts, column, value = [], "", ""
        county, township, village = (str(v or "") for v in (rec.county, rec.township, rec.village))
        if county:
            column, value = column or "county", value or county
            parts.append(f"county '{county}' is not a county of Xining")
        if township:
            column, value = column or "township", value or township
            if "ambiguous_township" in flags:
                parts.append(
                    f"township '{township}' exists in more than one county (add the county)"
                )
            else:
                parts.append(f"township '{township}' was not found")
        if village:
            column, value = column or "village", value or village
            parts.append(f"village '{village}' was not found")
        address = str(getattr(rec, "address", "") or "")
        if address and not parts:
            column, value = "address", address
            parts.append(f"the address '{address}' names no county or township of Xining")
        if not parts:
            parts.append("it names no place")
        out.append(
            {
                "column": column or "lon",
                "reason": "cannot place it: no coordinate, and " + "; ".join(parts),
                "value": value,
            }
        )
    return pd.DataFrame(out, index=rows.index, columns=["column", "reason", "value"])


def _has(flags: pd.Series, flag: str) -> pd.Series:
    return flags.str.contains(rf"(?:^|;){flag}(?:;|$)", regex=True)


def assignment_rows(load: SiteLoad, assigned: pd.DataFrame) -> pd.DataFrame:
    """Report rows that come from placing the accepted sites (outside, unplaced, warnings)."""
    if assigned is None or assigned.empty or "flags" not in assigned:
        return pd.DataFrame(columns=REPORT_COLUMNS)
    # (file, row) is not unique across folders (a sample file shares its registry's name).
    on = ["file", "row", "layer", "name"]
    keys = load.sites[[*on, "lon"]].rename(columns={"lon": "_read_lon"}).drop_duplicates(on)
    cols = ["file", "row", "layer", "name", "flags", "county", "township", "village", "county_name"]
    cols += ["township_name", "assign_method", "outside_km", "lon", "lat"]
    cols += ["address"] if "address" in assigned else []
    mine = pd.DataFrame(assigned[cols]).merge(keys, on=on, how="inner")
    if mine.empty:
        return pd.DataFrame(columns=REPORT_COLUMNS)
    mine = mine.fillna({c: "" for c in cols if c not in ("outside_km", "lon", "lat", "row")})
    flags = mine["flags"].astype(str)
    outside = _has(flags, "outside_city")
    unplaced = _has(flags, "unplaced") & ~outside
    placed = mine["_read_lon"].isna() & ~outside & ~unplaced
    alive = ~outside & ~unplaced
    county, township = mine["county"].astype(str), mine["township"].astype(str)
    cname, tname = mine["county_name"].astype(str), mine["township_name"].astype(str)
    parts: list[pd.DataFrame] = []

    def add(
        mask: pd.Series,
        outcome: str,
        column: str,
        reason: pd.Series | str,
        value: pd.Series | str = "",
    ) -> None:
        if not mask.any():
            return
        part = mine.loc[mask, ["file", "row"]].copy()
        part["column"] = column
        part["outcome"] = outcome
        part["reason"] = reason[mask] if isinstance(reason, pd.Series) else reason
        part["value"] = value[mask] if isinstance(value, pd.Series) else value
        parts.append(part)

    km = mine["outside_km"].astype(float).map(lambda v: f"{v:.1f}")
    where = (
        mine["lon"].astype(float).map(lambda v: f"{v:.6f}")
        + ", "
        + mine["lat"].astype(float).map(lambda v: f"{v:.6f}")
    )
    add(outside, REJECTED, "lon", "outside Xining (" + km + " km from the city boundary)", where)
    if unplaced.any():
        reasons = _unplaced_reasons(mine[unplaced])
        for col in ("column", "reason", "value"):
            mine.loc[unplaced, "_" + col] = reasons[col]
        for column, group in reasons.groupby("column"):
            mask = pd.Series(False, index=mine.index)
            mask[group.index] = True
            add(mask, REJECTED, column, mine["_reason"], mine["_value"])
    method = mine["assign_method"].astype(str)
    add(
        placed & method.eq("seat:township_seat"),
        WARNING,
        "township",
        "no coordinate: placed at the seat of " + tname + " (approximate)",
    )
    add(
        placed & method.eq("seat:county_seat"),
        WARNING,
        "county",
        "no coordinate: placed at the county seat of " + cname + " (approximate)",
    )
    add(
        alive & _has(flags, "city_only"),
        WARNING,
        "location_precision",
        "only known to be in Xining: not on the map",
    )
    add(
        alive & _has(flags, "unknown_county"),
        WARNING,
        "county",
        "county '" + county + "' is not a county of Xining; the point decides",
        county,
    )
    add(
        alive & _has(flags, "county_mismatch"),
        WARNING,
        "county",
        "the point lies in " + cname + ", not in the stated county '" + county + "'",
        county,
    )
    add(
        alive & _has(flags, "township_mismatch"),
        WARNING,
        "township",
        "the stated township '"
        + township
        + "' differs from where the point lies; counted in "
        + tname,
        township,
    )
    add(
        alive & _has(flags, "township_not_in_county"),
        WARNING,
        "township",
        "township '" + township + "' is not in " + cname,
        township,
    )
    add(
        alive & (_has(flags, "unknown_township") | _has(flags, "ambiguous_township")),
        WARNING,
        "township",
        "township '"
        + township
        + "' was not found in "
        + cname.where(cname.ne(""), "Xining")
        + "; counted in the county only",
        township,
    )
    add(
        alive & _has(flags, "on_border"),
        WARNING,
        "lon",
        "on a shared border: counted in " + tname.where(tname.ne(""), cname) + " (smallest code)",
    )
    if not parts:
        return pd.DataFrame(columns=REPORT_COLUMNS)
    return pd.concat(parts, ignore_index=True)[REPORT_COLUMNS]


def validation_report(load: SiteLoad, assigned: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every rejected row and every warning of ``load``, plus what placing them found."""
    parts = [
        load.rejects.reindex(columns=REJECT_COLUMNS).assign(outcome=REJECTED),
        load.notes.reindex(columns=REJECT_COLUMNS).assign(outcome=WARNING),
    ]
    if assigned is not None:
        parts.append(assignment_rows(load, assigned))
    parts = [p[REPORT_COLUMNS] for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=REPORT_COLUMNS)
    report = pd.concat(parts, ignore_index=True)
    files = {f: i for i, f in enumerate(dict.fromkeys(report["file"]))}
    report["row"] = report["row"].astype("int64")
    order = np.lexsort(
        (
            report["outcome"].ne(REJECTED).to_numpy(),
            report["row"].to_numpy(),
            report["file"].map(files).to_numpy(),
        )
    )
    return report.iloc[order].reset_index(drop=True)


def report_summary(load: SiteLoad, report: pd.DataFrame) -> dict[str, int]:
    """Counts for the upload panel: ``rows_read == accepted + rejected`` by construction."""
    rejected_rows = report.loc[report["outcome"].eq(REJECTED), ["file", "row"]].drop_duplicates()
    warned = report.loc[report["outcome"].eq(WARNING), ["file", "row"]].drop_duplicates()
    rejected = len(rejected_rows)
    return {
        "rows_read": load.rows_read,
        "accepted": load.rows_read - rejected,
        "rejected": rejected,
        "with_warnings": len(warned),
    }


def report_csv(report: pd.DataFrame) -> bytes:
    """The report as CSV for Excel (UTF-8 with BOM, formula-like cells neutralised)."""
    return to_csv(report)


def sites_for_export(assigned: pd.DataFrame) -> pd.DataFrame:
    """Assigned sites whose ``lon``/``lat`` (WGS84) say so in ``source_crs``.

    In memory ``source_crs`` names the system the coordinates were *published* in, while
    ``lon``/``lat`` are already WGS84. An export must not pair the two, or reading it back
    would shift GCJ-02/BD-09 points a second time: the published system moves to
    ``published_crs``.
    """
    out = assigned.copy()
    has = out["lon"].notna() & out["lat"].notna()
    published = out["source_crs"].fillna("").astype(str)
    out["published_crs"] = published.where(published.ne(WGS84), "WGS84")
    out["source_crs"] = np.where(has, "WGS84", "")
    return out
