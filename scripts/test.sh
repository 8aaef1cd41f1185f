#!/usr/bin/env bash
# Set up (test tools, Chromium, a throwaway PostGIS on loopback) and run lint + the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# The one-way layering (.importlinter): a broken contract fails the build here.
.venv/bin/lint-imports --no-cache --no-logo
# Dead code (allow-list in pyproject.toml [tool.vulture]).
.venv/bin/vulture

# PostgreSQL + PostGIS from Debian's packages, on 127.0.0.1 only, removed again on exit.
scripts/postgres.sh start >/dev/null
trap 'scripts/postgres.sh stop >/dev/null 2>&1 || true' EXIT
export XINING_TEST_DATABASE_URL="$(scripts/postgres.sh url)"
export XINING_REQUIRE_POSTGIS=1

.venv/bin/python -m pytest -q "$@"

# The whole suite again, with boundaries, registries and plan read from (and saved to) PostGIS
# because the environment says so, as in a deployment. Tests marked both_stores pick their
# stores themselves and already ran on the files and on PostGIS above, and store_free ones use
# no store at all: neither is repeated.
.venv/bin/python -m geo.db --url "$XINING_TEST_DATABASE_URL" --schema xining_ci load >/dev/null
XINING_DATABASE_URL="$XINING_TEST_DATABASE_URL" XINING_DATABASE_SCHEMA=xining_ci \
  .venv/bin/python -m pytest -q -m "not both_stores and not store_free" "$@"
