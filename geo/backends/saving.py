"""Make an uploaded registry the default of its layers, on whichever backend is configured.

The dashboard's "save as default" calls :func:`save_layers`; it knows nothing of files or SQL.
Each layer is saved in its own transaction with the version the planner started from
(``base_versions``), so a save never silently overwrites a colleague's: a layer that changed in
between comes back as a conflict with the backend's message, and nothing of it is written.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from geo._errors import InputError
from geo.backends import Backend, ConflictError
from layers.schema import LAYERS


@dataclass(frozen=True)
class SaveOutcome:
    """What happened to one layer: saved as ``version``, or refused with ``error``."""

    layer: str
    rows: int
    version: int | None = None
    previous: int | None = None
    error: str = ""
    conflict: ConflictError | None = None  # who saved in between, when, which version

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
        except InputError as exc:
            outcomes.append(SaveOutcome(layer, len(rows), error=str(exc)))
        else:
            outcomes.append(SaveOutcome(layer, len(rows), version=version, previous=int(base)))
    return outcomes
