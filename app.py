"""Xining county innovation map: the Streamlit entry point (layout lives in dashboard.ui)."""

from dashboard.ui import main

main()
