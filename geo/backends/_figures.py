"""Reported figures shared by the backends: rows, identities, the seed file, the frame.

A figure is one reported statistic: an indicator (``target_id``, an ``indicator_id`` of
``data/plan/indicators.csv``) for one scope (a county code, or 630100 for the city) and year,
with its value and source document. Both stores keep the figures versioned like registries
(every save a version, history and undo), and every figure keeps who entered it and when
(``entered_by``, ``entered_at``): a figure that did not change keeps its first entry.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from base.errors import InputError

FIGURE_COLUMNS = ("target_id", "period", "scope_code", "value", "source", "note")
STORED_COLUMNS = (*FIGURE_COLUMNS, "entered_by", "entered_at")
ACTUALS = "actuals"  # what a conflict message calls the figures (ConflictError's layer)
SEED_FILE = "reported_actuals.csv"


@dataclass
class FiguresLoad:
    """The stored figures (:data:`STORED_COLUMNS`) and the version to pass back when saving."""

    frame: pd.DataFrame
    version: int = 0
    saved_at: datetime | None = None
    saved_by: str = ""


def _text(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _number(value: object) -> float | None:
    text = _text(value)
    if not text:
        return None
    try:
        out = float(text)
    except ValueError:
        raise InputError(
            f"figure value {text!r} is not a number", zh=f"数值“{text}”不是数字"
        ) from None
    return None if math.isnan(out) else out


def figure_rows(frame: pd.DataFrame) -> list[dict]:
    """Plain rows, one per figure with a value (a row without one is no figure), in a stable
    order (indicator, scope, year)."""
    missing = [c for c in FIGURE_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"figures need the columns {missing}", zh=f"数据缺少列 {missing}")
    rows = []
    for rec in frame.to_dict("records"):
        value = _number(rec.get("value"))
        if value is None:
            continue
        rows.append(
            {
                "target_id": _text(rec.get("target_id")),
                "period": int(float(_text(rec.get("period")))),
                "scope_code": _text(rec.get("scope_code")),
                "value": value,
                "source": _text(rec.get("source")),
                "note": _text(rec.get("note")),
                "entered_by": _text(rec.get("entered_by")),
                "entered_at": _text(rec.get("entered_at")),
            }
        )
    rows.sort(key=lambda r: (r["target_id"], r["scope_code"], r["period"]))
    keys = [(r["target_id"], r["scope_code"], r["period"]) for r in rows]
    twice = sorted({k for k, nxt in itertools.pairwise(keys) if k == nxt})
    if twice:
        what = ", ".join(f"{t} {s} {p}" for t, s, p in twice[:3])
        raise InputError(
            f"figures given twice for the same indicator, scope and year: {what}",
            zh=f"同一指标、县区和年份的数值重复：{what}",
        )
    return rows


def figure_hash(row: dict) -> str:
    """Identity of a figure's content (who entered it is not part of it)."""
    payload = [row["target_id"], row["period"], row["scope_code"], round(row["value"], 12)]
    payload += [row["source"], row["note"]]
    text = json.dumps(payload, ensure_ascii=False)
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def figures_frame(rows: list[dict]) -> pd.DataFrame:
    """The figures frame (:data:`STORED_COLUMNS`; ``period`` whole years, ``value`` float)."""
    frame = pd.DataFrame(rows, columns=list(STORED_COLUMNS))
    frame["period"] = pd.array(frame["period"], dtype="Int64")
    frame["value"] = frame["value"].astype(float)
    return frame


def seed_figures(plan_dir: Path) -> list[dict]:
    """The figures in the bundled ``reported_actuals.csv`` (its rows without a value are
    placeholders, no figures)."""
    path = Path(plan_dir) / SEED_FILE
    if not path.exists():
        return []
    return figure_rows(pd.read_csv(path, dtype=str, keep_default_na=False))


def figures_csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Figures in the columns of the bundled ``reported_actuals.csv`` (who entered them is the
    store's record, not the file's), values written without a spurious '.0'."""
    out = pd.DataFrame({c: frame[c] for c in FIGURE_COLUMNS}).astype(object)
    out["value"] = [f"{float(v):.15g}" if _text(v) else "" for v in frame["value"]]
    out["period"] = [_text(v) for v in frame["period"]]
    return out.fillna("")


def entry(row: dict, saved_by: str, at: str) -> dict:
    """Who entered a figure and when: its own record when it has one (a restored version keeps
    who first entered each figure), else this save's."""
    if row.get("entered_by") or row.get("entered_at"):
        by, when = row.get("entered_by") or "", row.get("entered_at") or ""
        return {"entered_by": by, "entered_at": when}
    return {"entered_by": saved_by, "entered_at": at}
