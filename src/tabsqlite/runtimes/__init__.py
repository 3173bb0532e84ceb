"""Runtime implementations; :func:`default_runtime` picks the one for this interpreter."""

from __future__ import annotations

import sys

from ..runtime import Runtime

__all__ = ["default_runtime"]


def default_runtime() -> Runtime:
    """The runtime for this interpreter: Pyodide in the browser, stdlib sqlite3 elsewhere."""
    if sys.platform == "emscripten":
        from .pyodide import PyodideRuntime

        return PyodideRuntime()
    from .cpython import CPythonRuntime

    return CPythonRuntime()
