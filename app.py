"""Xining county innovation map: the Streamlit entry point (layout lives in dashboard.ui)."""

import streamlit as st

from dashboard.ui import main
from geo.backends import DATABASE_URL_ENV, configure


def _database_url_from_secrets() -> str | None:
    """XINING_DATABASE_URL from .streamlit/secrets.toml (PostGIS); none: the embedded files."""
    try:
        return st.secrets.get(DATABASE_URL_ENV)
    except Exception:  # no secrets file at all
        return None


configure(_database_url_from_secrets())
main()
