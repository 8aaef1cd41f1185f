"""Paths and limits in one place (like osmnx.settings)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / "data"
BOUNDARIES_DIR = DATA_DIR / "boundaries"
SITES_DIR = DATA_DIR / "sites"
PLAN_DIR = DATA_DIR / "plan"

# Years a site may carry (earlier parks exist: e.g. 大华工业园区 1994).
MIN_SITE_YEAR = 1980
MAX_SITE_YEAR = 2030
