"""Class breaks, colours and legend labels for choropleths (mapclassify underneath).

Shared by the interactive map and the static images so both show the same classes. Rules a
reader relies on:

* Missing values get their own grey class, never the darkest colour.
* Counts full of zeros break quantile schemes, so zero is a class of its own ("0") whenever it
  occurs, and the schemes classify only the positive values.
* Attainment uses fixed bands: met / behind / no data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mapclassify
import numpy as np
import pandas as pd

SCHEMES: dict[str, tuple[str, str, type]] = {
    "natural_breaks": ("自然断点", "Natural breaks", mapclassify.NaturalBreaks),
    "quantiles": ("分位数", "Quantiles", mapclassify.Quantiles),
    "equal_interval": ("等间距", "Equal interval", mapclassify.EqualInterval),
}

# ColorBrewer YlGnBu, light → dark; index by number of classes.
SEQUENTIAL = ["#edf8b1", "#c7e9b4", "#7fcdbb", "#41b6c4", "#1d91c0", "#225ea8", "#0c2c84"]
ZERO_COLOR = "#fff7d6"
MISSING_COLOR = "#cfcfcf"
MISSING_LABEL = {"zh": "无数据", "en": "No data"}

STATUS_COLORS = {"met": "#1a9850", "behind": "#f46d43", "no_data": MISSING_COLOR}
STATUS_LABELS = {
    "zh": {"met": "已达标", "behind": "未达标", "no_data": "无数据"},
    "en": {"met": "Met", "behind": "Behind", "no_data": "No data"},
}


@dataclass(frozen=True)
class Classes:
    """Result of a classification: one class index per value (-1 = missing) and the legend."""

    index: np.ndarray  # int per input value; -1 missing
    colors: list[str]  # per class
    labels: list[str]  # per class
    missing_color: str = MISSING_COLOR
    missing_label: str = "无数据"

    def color_of(self) -> list[str]:
        """Fill colour per input value."""
        return [self.colors[i] if i >= 0 else self.missing_color for i in self.index]

    def legend(self, *, include_missing: bool = True) -> list[tuple[str, str]]:
        """(colour, label) rows, missing last."""
        rows = list(zip(self.colors, self.labels, strict=True))
        if include_missing and (self.index < 0).any():
            rows.append((self.missing_color, self.missing_label))
        return rows


def _fmt(value: float, decimals: int) -> str:
    if decimals == 0:
        return f"{value:,.0f}"
    return f"{value:,.{decimals}f}"


def _decimals(values: np.ndarray, integer: bool) -> int:
    if integer:
        return 0
    span = float(np.nanmax(values) - np.nanmin(values)) if len(values) else 0.0
    if span >= 100:
        return 0
    if span >= 1:
        return 1
    return 2 if span >= 0.05 else 3


def classify(
    values: pd.Series | np.ndarray,
    *,
    scheme: str = "natural_breaks",
    k: int = 5,
    lang: str = "zh",
) -> Classes:
    """Classify numeric values into at most ``k`` classes with sequential colours."""
    if scheme not in SCHEMES:
        raise ValueError(f"Unknown scheme '{scheme}'. Use one of {', '.join(SCHEMES)}.")
    arr = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    index = np.full(len(arr), -1, dtype=int)
    valid = np.isfinite(arr)
    missing_label = MISSING_LABEL.get(lang, MISSING_LABEL["zh"])
    if not valid.any():
        return Classes(index, [], [], missing_label=missing_label)
    vals = arr[valid]
    integer = bool(np.all(np.equal(np.mod(vals, 1), 0)))
    decimals = _decimals(vals, integer)
    colors: list[str] = []
    labels: list[str] = []
    has_zero = bool((vals == 0).any())
    positive = vals[vals > 0] if has_zero and vals.min() >= 0 else vals
    offset = 0
    if has_zero and vals.min() >= 0:
        colors.append(ZERO_COLOR)
        labels.append("0")
        offset = 1
    sub_idx = np.full(len(vals), 0, dtype=int)
    uniq = np.unique(positive)
    if len(uniq):
        n_classes = max(1, min(k - offset, len(uniq)))
        if n_classes == 1:
            bins = np.array([uniq.max()])
            yb = np.zeros(len(positive), dtype=int)
        else:
            classifier = SCHEMES[scheme][2](positive, k=n_classes)
            bins = np.unique(classifier.bins)
            yb = np.searchsorted(bins, positive, side="left")
        lower = float(positive.min())
        palette = _palette(len(bins))
        for i, upper in enumerate(bins):
            lo = lower if i == 0 else float(bins[i - 1])
            if integer:
                lo_txt = _fmt(math.floor(lo) + (1 if i > 0 else 0), 0)
                text = lo_txt if _fmt(upper, 0) == lo_txt else f"{lo_txt}–{_fmt(upper, 0)}"
            else:
                lo_txt, hi_txt = _fmt(lo, decimals), _fmt(float(upper), decimals)
                text = lo_txt if lo_txt == hi_txt else f"{lo_txt}–{hi_txt}"
            colors.append(palette[i])
            labels.append(text)
        if offset:
            sub_idx[vals > 0] = yb + offset
        else:
            sub_idx = yb
    index[valid] = sub_idx
    return Classes(index, colors, labels, missing_label=missing_label)


def _palette(n: int) -> list[str]:
    """``n`` sequential colours spread over the palette (light → dark)."""
    if n <= 0:
        return []
    if n == 1:
        return [SEQUENTIAL[3]]
    picks = np.linspace(1, len(SEQUENTIAL) - 1, n).round().astype(int)
    return [SEQUENTIAL[i] for i in picks]


def status_classes(statuses: pd.Series | list[str], *, lang: str = "zh") -> Classes:
    """Fixed attainment bands: met, behind, no data (missing status → no data)."""
    order = ["met", "behind"]
    s = pd.Series(statuses).fillna("no_data").astype(str)
    index = np.array([order.index(v) if v in order else -1 for v in s], dtype=int)
    labels = STATUS_LABELS.get(lang, STATUS_LABELS["zh"])
    return Classes(
        index,
        [STATUS_COLORS[v] for v in order],
        [labels[v] for v in order],
        missing_color=STATUS_COLORS["no_data"],
        missing_label=labels["no_data"],
    )
