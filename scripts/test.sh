#!/usr/bin/env bash
# Set up (see setup.sh) and run every check: ruff, mypy, the CPython suite (tests/) and the
# multi-tab browser suite (playwright/, real Chromium), then the browser suite again with
# tabsqlite's VFS lending the files' handles between tabs (what browsers without
# readwrite-unsafe handles run; Chromium shares them otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests playwright hatch_build.py $(ls -d bench 2>/dev/null)
.venv/bin/mypy
.venv/bin/python -m pytest tests playwright "$@"
TABSQLITE_TEST_HANDLES=lending .venv/bin/python -m pytest playwright "$@"
