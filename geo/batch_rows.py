"""Row checks of the batch path: the product's own validation, one block of a large file at a time.

A registry too large for memory (or for the in-memory reader's 200,000-row limit) is read by
:mod:`geo.dask_path` in blocks. Each block of text rows goes through
:func:`layers.registry.validate_table`, the very checks ``read_sites`` applies (headers, names,
layers, coordinates in each row's system, swapped values, total rows ...), with the file's own
row numbers. The one check that needs the whole file, duplicates (same layer, name and stated
place: :func:`layers.registry.duplicate_key`), is done in a first pass over key hashes
(:func:`duplicate_rows`) and applied in :func:`check_block`. Rejected and problem rows are
counted by reason and a bounded number of them kept with their row numbers (:class:`Issues`), so
nothing is left out silently and the report stays small whatever the file's size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from layers.readers import RawTable
from layers.registry import REJECT_COLUMNS, duplicate_key, validate_table

MAX_EXAMPLES = 1_000  # rows with their reason kept in an Issues (all of them are counted)


@dataclass
class Issues:
    """Rows left out (rejected) or flagged (problem), counted by reason; the first examples kept."""

    counts: dict[str, int] = field(default_factory=dict)  # "rejected: <reason>" → rows
    examples: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=[*REJECT_COLUMNS, "outcome"])
    )

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def rejected(self) -> int:
        return sum(n for k, n in self.counts.items() if k.startswith("rejected"))


def _reason_kind(reason: str) -> str:
    """A reason without its row-specific part ("duplicate of row 12" → "duplicate of row")."""
    text = str(reason)
    for cut in (" of row ", " (", ": "):
        if cut in text:
            text = text.split(cut)[0] + (" of row" if cut == " of row " else "")
    return text


def issues_of(rejects: pd.DataFrame, problems: pd.DataFrame | None = None) -> Issues:
    """Issues of one block: rejected rows, and assigned rows a planner must look at."""
    frames = []
    if not rejects.empty:
        frames.append(rejects[REJECT_COLUMNS].assign(outcome="rejected"))
    if problems is not None and not problems.empty:
        frames.append(
            pd.DataFrame(
                {
                    "file": problems["file"].to_numpy(),
                    "row": problems["row"].to_numpy(),
                    "column": "",
                    "reason": problems["flags"].to_numpy(),
                    "value": problems["name"].to_numpy(),
                    "outcome": "problem",
                }
            )
        )
    if not frames:
        return Issues()
    rows = pd.concat(frames, ignore_index=True)
    kinds = rows["outcome"] + ": " + rows["reason"].map(_reason_kind)
    counts = {str(k): int(v) for k, v in kinds.value_counts().items()}
    return Issues(counts, rows.sort_values("row", kind="stable").head(MAX_EXAMPLES))


def merge_issues(parts: list[Issues]) -> Issues:
    counts: dict[str, int] = {}
    for part in parts:
        for k, v in part.counts.items():
            counts[k] = counts.get(k, 0) + v
    frames = [p.examples for p in parts if not p.examples.empty]
    examples = (
        pd.concat(frames, ignore_index=True).sort_values("row", kind="stable").head(MAX_EXAMPLES)
        if frames
        else Issues().examples
    )
    return Issues(counts, examples.reset_index(drop=True))


def _text_block(part: pd.DataFrame, filename: str) -> RawTable:
    """A block of text rows (with the file's ``row`` numbers) as the reader would give it."""
    frame = part.drop(columns="row")
    frame.index = pd.Index(part["row"].to_numpy(dtype=np.int64))
    return RawTable(frame=frame, filename=filename, kind="csv")


def key_hashes(sites: pd.DataFrame) -> np.ndarray:
    """64-bit hashes of the duplicate key of accepted sites (collisions: ~1e-7 at 10⁶ keys)."""
    key = duplicate_key(
        sites["layer"], sites["name"], sites["county"], sites["township"], sites["village"]
    )
    return pd.util.hash_pandas_object(key, index=False).to_numpy()


def block_keys(part: pd.DataFrame, *, filename: str, crs: str | None) -> pd.DataFrame:
    """First pass: the key hash and row of every row the block accepts."""
    sites = validate_table(_text_block(part, filename), crs=crs).sites
    return pd.DataFrame({"key": key_hashes(sites), "row": sites["row"].to_numpy(np.int64)})


def duplicate_rows(keys) -> dict[int, int]:
    """Keys found in more than one block → the first row holding them (a Dask frame of
    :func:`block_keys`; only the duplicated keys come back to this process)."""
    agg = keys.groupby("key")["row"].agg(["min", "count"])
    dup = agg[agg["count"] > 1].compute()
    return {int(k): int(r) for k, r in zip(dup.index, dup["min"], strict=True)}


def check_block(
    part: pd.DataFrame,
    *,
    filename: str,
    crs: str | None,
    duplicates: dict[int, int],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Accepted sites (canonical columns, WGS84) and rejected rows of one block of text rows."""
    load = validate_table(_text_block(part, filename), crs=crs)
    sites, rejects = load.sites, load.rejects
    if duplicates and not sites.empty:
        first = pd.Series(key_hashes(sites)).map(duplicates).to_numpy(dtype=float)
        rows = sites["row"].to_numpy(dtype=float)
        dup = np.isfinite(first) & (first < rows)
        if dup.any():
            extra = pd.DataFrame(
                {
                    "file": filename,
                    "row": sites["row"].to_numpy()[dup],
                    "column": "name",
                    "reason": [f"duplicate of row {int(r)}" for r in first[dup]],
                    "value": sites["name"].to_numpy()[dup],
                }
            )
            rejects = pd.concat([rejects, extra], ignore_index=True)
            sites = sites[~dup].reset_index(drop=True)
    return sites, rejects
