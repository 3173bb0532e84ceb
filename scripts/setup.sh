#!/usr/bin/env bash
# Set up everything on a fresh machine: a virtualenv with tabsqlite and its test tools
# (JupyterLite's builder among them), js_glue's npm packages (sqlite-wasm, Pyodide, PyScript),
# micropip's and IPython's wheels for Pyodide, our wheel, and Debian's
# chromium, firefox-esr and webkit2gtk-driver with xvfb (unless TABSQLITE_BROWSER /
# TABSQLITE_FIREFOX / TABSQLITE_WEBKIT_DRIVER name others). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip 2>/dev/null || true
.venv/bin/python -m pip install -q -e '.[test]'

# The browsers: Debian's chromium, firefox-esr and WebKitGTK, never downloaded ones.
MISSING=""
if [ -z "${TABSQLITE_BROWSER:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  MISSING="chromium"
fi
if [ -z "${TABSQLITE_FIREFOX:-}" ] && ! command -v firefox-esr >/dev/null 2>&1; then
  MISSING="$MISSING firefox-esr"
fi
# WebKitGTK's WebDriver (it brings MiniBrowser) and an X server for it.
if [ -z "${TABSQLITE_WEBKIT_DRIVER:-}" ] && ! command -v WebKitWebDriver >/dev/null 2>&1; then
  MISSING="$MISSING webkit2gtk-driver"
fi
if ! command -v Xvfb >/dev/null 2>&1; then
  MISSING="$MISSING xvfb"
fi
if [ -n "$MISSING" ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $MISSING
fi

# sqlite-wasm and Pyodide, exactly as package-lock.json pins them.
(cd js_glue && npm ci --no-audit --no-fund --loglevel=error)

# micropip for Pyodide (it is loaded by URL: Pyodide's npm package has no wheels).
mkdir -p dist/vendor
if ! ls dist/vendor/micropip-*.whl >/dev/null 2>&1; then
  .venv/bin/python -m pip download -q --no-deps --only-binary=:all: \
    --python-version 3.14 --platform any -d dist/vendor 'micropip==0.11.1'
fi

# The pure-Python wheels of Pyodide's full distribution that JupyterLite's kernel loads
# (IPython and its dependencies; Pyodide's npm package has none): the pins and why are in
# playwright/apps/jupyterlite/pyodide-packages.txt.
mkdir -p dist/vendor/pyodide
PINS=playwright/apps/jupyterlite/pyodide-packages.txt
if [ "$(ls dist/vendor/pyodide/*.whl 2>/dev/null | wc -l)" -lt "$(grep -c '==' "$PINS")" ]; then
  .venv/bin/python -m pip download -q --no-deps --only-binary=:all: \
    --python-version 3.14 --platform any -d dist/vendor/pyodide -r "$PINS"
fi

# SQLAlchemy's pure wheel (and its one dependency) for the DB-API test in a tab.
mkdir -p dist/vendor/dbapi
DBAPI_PINS=playwright/dbapi-packages.txt
if [ "$(ls dist/vendor/dbapi/*.whl 2>/dev/null | wc -l)" -lt "$(grep -c '==' "$DBAPI_PINS")" ]; then
  .venv/bin/python -m pip download -q --no-deps --only-binary=:all: \
    --python-version 3.14 --platform any -d dist/vendor/dbapi -r "$DBAPI_PINS"
fi

# Our own wheel, as the browser installs it.
rm -f dist/tabsqlite-*.whl
.venv/bin/python -m build --wheel --no-isolation -o dist . >/dev/null
echo "setup done: $(ls dist/tabsqlite-*.whl)"
