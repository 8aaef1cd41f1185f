#!/usr/bin/env bash
# Set up and start the dashboard on the bundled data (http://localhost:8501), on this machine
# only (127.0.0.1, .streamlit/config.toml). XINING_ADDRESS=0.0.0.0 (or --server.address ADDR)
# listens on another address; the README's "Serving on an intranet" says more.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
address=()
if [ -n "${XINING_ADDRESS:-}" ]; then
  address=(--server.address "$XINING_ADDRESS")
fi
# serve.py: app.py with static/ limited to the vendored files (dashboard/serving.py)
exec .venv/bin/streamlit run serve.py "${address[@]}" "$@"
