"""Debian's GDAL 3.6 and QGIS 3.22 as independent readers of what the product writes.

``ogrinfo`` and GDAL's GeoPackage validator come from Debian's ``gdal-bin`` / ``python3-gdal``,
QGIS from ``python3-qgis`` (tests/qgis_probe.py runs in Debian's Python). ``scripts/setup.sh
--dev`` installs them; without them the tests that need them skip, except in CI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEBIAN_PYTHON = Path("/usr/bin/python3")
VALIDATE_GPKG = Path("/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py")
PROBE = ROOT / "tests" / "qgis_probe.py"


def _have_qgis() -> bool:
    if not DEBIAN_PYTHON.exists():
        return False
    probe = subprocess.run(
        [str(DEBIAN_PYTHON), "-c", "import qgis.core"], capture_output=True, timeout=60
    )
    return probe.returncode == 0


HAVE_GDAL = shutil.which("ogrinfo") is not None and VALIDATE_GPKG.exists()
HAVE_QGIS = _have_qgis()
IN_CI = os.environ.get("CI") == "true"
needs_gdal = pytest.mark.skipif(
    not HAVE_GDAL and not IN_CI, reason="Debian gdal-bin/python3-gdal not installed"
)
needs_qgis = pytest.mark.skipif(
    not HAVE_QGIS and not IN_CI, reason="Debian python3-qgis not installed"
)


def qgis(*args: str) -> dict:
    """What QGIS's Python API sees (tests/qgis_probe.py in Debian's Python)."""
    env = {"PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen", "HOME": "/tmp"}
    run = subprocess.run(
        [str(DEBIAN_PYTHON), str(PROBE), *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def ogrinfo(path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ogrinfo", "-ro", "-al", "-so", *extra, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
