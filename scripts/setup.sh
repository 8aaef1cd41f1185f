#!/usr/bin/env bash
# Set up the project: a virtual environment with pinned packages; with --dev also the test tools
# and Debian's Chromium for the real-browser tests. Safe to run again (it only adds what is missing).
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1 ;;
    *) echo "usage: scripts/setup.sh [--dev]" >&2; exit 2 ;;
  esac
done

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
if [ "$dev" = 1 ]; then
  .venv/bin/python -m pip install --quiet -r requirements-dev.txt
else
  .venv/bin/python -m pip install --quiet -r requirements.txt
fi

# Debian's Chromium for the browser tests (never a browser download by a test tool), a CJK
# font so browser screenshots show Chinese instead of empty boxes, and poppler-utils (pdfinfo,
# pdffonts, pdftoppm) to check the PDF maps and briefs. The static maps themselves need no
# Debian package: their CJK font comes from PyPI (noto-cjk-sans-otc in requirements.txt).
# GDAL 3.6 (ogrinfo, the GeoPackage validator) and QGIS 3.22's Python API, as Debian stable
# ships them, open the analysts' exports, the database and the QGIS project in the tests; and
# LibreOffice Calc (headless) reads the CSV and XLSX downloads as a spreadsheet user's would.
debs=(chromium chromium-driver fonts-noto-cjk poppler-utils gdal-bin python3-gdal python3-qgis qgis-providers libreoffice-calc-nogui)
missing=()
for deb in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$deb" 2>/dev/null | grep -q "install ok installed" || missing+=("$deb")
done
if [ "$dev" = 1 ] && [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
echo "setup done: $(.venv/bin/python --version)"
