#!/usr/bin/env bash
# Run the benchmark suite (see bench/__init__.py): writes bench/RESULTS.md and bench/results.json.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m bench "$@"
