"""Make an uploaded registry the default of its layers, or go back to an earlier version, on
whichever backend is configured.

The dashboard's "save as default" calls :func:`save_layers` and its "undo" :func:`undo_last`;
they know nothing of files or SQL.
Each layer is saved in its own transaction with the version the planner started from
(``base_versions``), so a save never silently overwrites a colleague's: a layer that changed in
between comes back as a conflict with the backend's message, and nothing of it is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import pandas as pd

from base.errors import InputError, StoreError, UserFacing
from geo.backends._figures import ACTUALS, FIGURE_COLUMNS
from geo.backends.store import Backend, ConflictError
from layers.schema import LAYERS

_RESTORED = re.compile(r"restored version (\d+)")


def undo_target(history: pd.DataFrame, current: int) -> int:
    """The version an undo from ``current`` goes back to: the one before the save whose content
    is current. A restore ("restored version N") has N's content, so undoing again steps
    further back instead of undoing the undo."""
    messages = dict(zip(history["version"].astype(int), history["message"].astype(str)))
    version, seen = int(current), set()
    while (m := _RESTORED.fullmatch(messages.get(version, ""))) and version not in seen:
        seen.add(version)
        version = int(m.group(1))
    return version - 1


@dataclass(frozen=True)
class SaveOutcome:
    """What happened to one layer: saved as ``version``, or refused with ``error``."""

    layer: str
    rows: int
    version: int | None = None
    previous: int | None = None
    error: str = ""
    conflict: ConflictError | None = None  # who saved in between, when, which version
    reason: UserFacing | None = None  # why it was refused, in both languages (``error``: English)
    restored: int | None = None  # an undo or restore: the version whose content is current again

    @property
    def saved(self) -> bool:
        return self.version is not None


def save_layers(
    backend: Backend,
    sites: pd.DataFrame,
    *,
    base_versions: dict[str, int],
    saved_by: str = "",
    message: str = "",
) -> list[SaveOutcome]:
    """Save the rows of each layer present in ``sites`` as that layer's registry.

    ``sites``: accepted rows in the canonical columns (``SiteLoad.sites``), one or more layers.
    ``base_versions``: the version of each layer the planner loaded
    (:meth:`Backend.registry_versions` at that time). A layer missing from it is refused rather
    than saved blind. Returns one outcome per layer, in the schema's layer order.
    """
    if sites.empty:
        raise InputError("No accepted rows to save; nothing was saved.")
    present = set(sites["layer"].astype(str))
    unknown = sorted(present - set(LAYERS))
    if unknown:
        raise InputError(f"Unknown layer(s) {unknown}; layers: {', '.join(LAYERS)}")
    outcomes = []
    for layer in (k for k in LAYERS if k in present):
        rows = sites[sites["layer"].astype(str) == layer].reset_index(drop=True)
        base = base_versions.get(layer)
        if base is None:
            outcomes.append(
                SaveOutcome(layer, len(rows), error=f"No loaded version of '{layer}' is known.")
            )
            continue
        try:
            version = backend.save_registry(
                layer, rows, expected_version=int(base), saved_by=saved_by, message=message
            )
        except ConflictError as exc:
            outcomes.append(SaveOutcome(layer, len(rows), error=str(exc), conflict=exc))
        except (InputError, StoreError) as exc:
            outcomes.append(SaveOutcome(layer, len(rows), error=str(exc), reason=exc))
        else:
            outcomes.append(SaveOutcome(layer, len(rows), version=version, previous=int(base)))
    return outcomes


def restore_version(
    backend: Backend,
    layer: str,
    version: int,
    *,
    expected_version: int | None = None,
    saved_by: str = "",
) -> SaveOutcome:
    """Make an earlier ``version`` of ``layer`` current again, as a new version.

    Nothing is deleted: the version being replaced stays in the history too, so a restore can be
    undone like any save. ``expected_version``: the version the planner saw (default: the
    current one); someone else's save in between makes it a conflict.
    """
    base = expected_version
    if base is None:  # ask the store only when the caller did not say
        base = backend.registry_versions()[layer]
    old = backend.load_registry(layer, version=int(version))
    try:
        new = backend.save_registry(
            layer,
            old.sites,
            expected_version=int(base),
            saved_by=saved_by,
            message=f"restored version {int(version)}",
        )
    except ConflictError as exc:
        return SaveOutcome(layer, len(old.sites), error=str(exc), conflict=exc)
    return SaveOutcome(
        layer, len(old.sites), version=new, previous=int(base), restored=int(version)
    )


def undo_last(
    backend: Backend, layer: str, *, expected_version: int | None = None, saved_by: str = ""
) -> SaveOutcome:
    """Undo the latest save of ``layer``: the version before it becomes current again.

    ``expected_version``: the version the planner saw; if a colleague saved after it, their save
    is not undone blindly: the outcome is a conflict and nothing is written.
    """
    current = backend.registry_versions()[layer]
    shown = current if expected_version is None else int(expected_version)
    if shown != current:
        head = backend.load_registry(layer)
        conflict = ConflictError(
            layer,
            expected=shown,
            current=current,
            saved_at=head.saved_at,
            saved_by=head.saved_by,
        )
        return SaveOutcome(layer, 0, error=str(conflict), conflict=conflict)
    target = undo_target(backend.history(layer), current) if current > 1 else 0
    if target < 1:
        raise InputError(
            f"Layer '{layer}' has no earlier version to go back to.",
            zh=f"图层“{LAYERS[layer].zh}”没有可以退回的更早版本。",
        )
    return restore_version(backend, layer, target, expected_version=current, saved_by=saved_by)


def save_figures(
    backend: Backend,
    figures: pd.DataFrame,
    *,
    base_version: int,
    saved_by: str = "",
    message: str = "",
) -> SaveOutcome:
    """Make ``figures`` (checked rows, :data:`geo.backends._figures.FIGURE_COLUMNS`) the
    reported figures, as a new version; a colleague's save since ``base_version`` is a
    conflict and nothing is written."""
    try:
        version = backend.save_actuals(
            figures, expected_version=int(base_version), saved_by=saved_by, message=message
        )
    except ConflictError as exc:
        return SaveOutcome(ACTUALS, len(figures), error=str(exc), conflict=exc)
    except (InputError, StoreError) as exc:
        return SaveOutcome(ACTUALS, len(figures), error=str(exc), reason=exc)
    return SaveOutcome(ACTUALS, len(figures), version=version, previous=int(base_version))


def undo_figures(
    backend: Backend, *, expected_version: int | None = None, saved_by: str = ""
) -> SaveOutcome:
    """The figures before the latest save become current again, as a new version (nothing is
    deleted); a colleague's save after ``expected_version`` is not undone blindly."""
    head = backend.load_actuals()
    shown = head.version if expected_version is None else int(expected_version)
    if shown != head.version:
        conflict = ConflictError(
            ACTUALS,
            expected=shown,
            current=head.version,
            saved_at=head.saved_at,
            saved_by=head.saved_by,
        )
        return SaveOutcome(ACTUALS, 0, error=str(conflict), conflict=conflict)
    target = undo_target(backend.actuals_history(), head.version) if head.version > 1 else 0
    if target < 1:
        raise InputError(
            "The figures have no earlier version to go back to.", zh="数据没有可以退回的更早版本。"
        )
    old = backend.load_actuals(version=target).frame
    out = save_figures(
        backend,
        old,
        base_version=head.version,
        saved_by=saved_by,
        message=f"restored version {target}",
    )
    return replace(out, restored=target) if out.saved else out


def merge_figures(current: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """``current`` figures with ``new`` ones added: a new figure replaces the one of the same
    indicator, scope and year; the others stay (a bureau sends this year's figures, not all)."""
    key = ["target_id", "scope_code", "period"]
    incoming = new[list(FIGURE_COLUMNS)].copy()
    incoming["period"] = pd.to_numeric(incoming["period"]).astype(int)
    kept = current.copy()
    kept["period"] = pd.to_numeric(kept["period"]).astype(int)
    both = kept.merge(incoming[key], on=key, how="left", indicator=True)
    kept = kept[(both["_merge"] == "left_only").to_numpy()]
    return pd.concat([kept, incoming], ignore_index=True)
