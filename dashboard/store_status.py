"""The store's health on the page: one sentence in the page's language, never a traceback.

A store that cannot be reached (PostGIS down, a wrong password, a malformed URL) stops the page
with its message; a damaged embedded store has been set aside by the store itself, so the page
draws from the bundled files and says so on every run while the damaged copy is kept.
"""

from __future__ import annotations

import streamlit as st

from base.errors import StoreError
from dashboard.upload import layer_versions
from geo.backends import EmbeddedBackend, get_backend
from geo.backends.embedded import StoreDamaged


def store_ready(lang: str) -> bool:
    """Whether the page can draw; shows the store's problem, if any, in ``lang``."""
    try:
        layer_versions()
    except StoreDamaged:
        st.cache_data.clear()  # nothing read from the damaged file stays on screen
    except StoreError as exc:
        st.error(exc.text(lang))
        return False
    backend = get_backend()
    if isinstance(backend, EmbeddedBackend):
        kept = backend.damaged_copies()
        if kept:
            st.error(StoreDamaged(backend.path, kept[-1]).text(lang))
    return True
