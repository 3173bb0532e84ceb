#!/usr/bin/env bash
# Set up (see setup.sh) and run every check: ruff, mypy, the CPython suite (tests/) and the
# multi-tab browser suite (playwright/, real Chromium: tabsqlite's VFS in log mode, its
# default there), then the browser suite again with the VFS committing into the file
# ("shared" handles), and again lending the files' handles between tabs (what browsers
# without readwrite-unsafe handles run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests playwright hatch_build.py $(ls -d bench 2>/dev/null)
.venv/bin/mypy
.venv/bin/python -m pytest tests playwright "$@"
TABSQLITE_TEST_HANDLES=shared .venv/bin/python -m pytest playwright "$@"
TABSQLITE_TEST_HANDLES=lending .venv/bin/python -m pytest playwright "$@"
