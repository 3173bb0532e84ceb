#!/usr/bin/env bash
# Set up (see setup.sh) and serve the multi-tab demo; open the printed URL in 2-3 tabs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m tabsqlite serve --site example_site --wheels dist \
  --pyodide js_glue/node_modules/pyodide --port "${PORT:-8000}"
