"""Paths and limits in one place (like osmnx.settings)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / "data"
BOUNDARIES_DIR = DATA_DIR / "boundaries"
SITES_DIR = DATA_DIR / "sites"
PLAN_DIR = DATA_DIR / "plan"

# The plan runs 2018-09-14 to 2023-09-13; most targets are for 2020.
PLAN_START_YEAR = 2018
PLAN_END_YEAR = 2023
DEFAULT_TARGET_YEAR = 2020

# Years a site may carry (earlier parks exist: e.g. 大华工业园区 1994).
MIN_SITE_YEAR = 1980
MAX_SITE_YEAR = 2030
