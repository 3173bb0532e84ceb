"""The browser runtime: Pyodide drives sqlite-wasm on OPFS through ``js_glue``.

The page or worker registers the JS module ``tabsqlite_glue`` (see ``js_glue/src``) before
importing tabsqlite. Every statement runs while this tab holds the database's Web Lock
``tabsqlite-db-<id>`` (held from BEGIN to COMMIT for transactions), so tabs queue in order
instead of spinning on SQLITE_BUSY. Changes go out on a BroadcastChannel; holds are Web
Locks, which the browser frees when a tab closes or crashes.
"""

from __future__ import annotations

from .runtime import PyodideRuntime

__all__ = ["PyodideRuntime"]
