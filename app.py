"""Xining county innovation map: the Streamlit entry point (layout lives in dashboard.ui)."""

import streamlit as st

from dashboard.secrets import SecretsFileError, secret, stop_on_broken_file
from dashboard.ui import main
from geo.backends import DATABASE_URL_ENV, configure

try:
    configure(secret(DATABASE_URL_ENV))  # no secrets file: the embedded files
except SecretsFileError:
    stop_on_broken_file(str(st.query_params.get("lang", "zh")))
main()
