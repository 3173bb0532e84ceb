"""Starting the JS side, once per interpreter: :func:`start_glue`.

A tab booted by ``startTab`` (``js_glue``) has registered the JS module ``tabsqlite_glue``
before importing tabsqlite: that glue is used as it is. In any other Pyodide (the app's own
``loadPyodide``, PyScript, JupyterLite) tabsqlite starts its glue itself, from the files its
wheel carries (:mod:`.assets`), or from ``assets_url`` when the app serves them:

- in a dedicated worker, sqlite-wasm runs in that worker and Python calls it directly
  (``worker_glue.mjs``);
- on a page's main thread, where OPFS has no synchronous access, tabsqlite starts a
  database worker of its own and every call goes there (``db_proxy.mjs``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from ...errors import BrowserSetupError
from .assets import GLUE_DIR, SQLITE_DIR, ModuleLinker, asset_root, blob_url, read_asset
from .glue import Glue, registered_glue

__all__ = ["BootOptions", "start_glue"]

#: Where plain database names go when tabsqlite starts its own glue.
DEFAULT_DIRECTORY = "/tabsqlite"


class BootOptions:
    """How tabsqlite starts its JS side when no ``tabsqlite_glue`` was registered.

    :param assets_url: a URL serving the wheel's ``tabsqlite/_browser/`` folder (the layout of
        ``js_glue/``); ``None`` loads the files from the installed package as blob URLs.
    :param handles: how tabsqlite's VFS holds the files: ``"auto"`` (``"log"`` where tabs
        can share handles, else ``"lending"``), ``"log"`` (shared handles, commits to a
        write-ahead log: readers never wait for a writer), ``"shared"`` (shared handles,
        commits into the file) or ``"lending"`` (forced only to test). Every tab of one
        database must use the log, or none.
    :param default_directory: the OPFS folder for plain database names.
    """

    def __init__(self, assets_url: str | None = None, handles: str = "auto",
                 default_directory: str = DEFAULT_DIRECTORY) -> None:
        self.assets_url = assets_url.rstrip("/") if assets_url else None
        self.handles = handles
        self.default_directory = default_directory


_started: asyncio.Future[Glue] | None = None


async def start_glue(options: BootOptions) -> Glue:
    """The glue of this interpreter: the registered one, else one started now with
    ``options`` (later calls share it; a start that failed is tried again next time)."""
    global _started
    registered = registered_glue()
    if registered is not None:
        return registered
    if _started is None or (_started.done() and (_started.cancelled()
                                                 or _started.exception() is not None)):
        _started = asyncio.ensure_future(_start(options))
    try:
        return await asyncio.shield(_started)
    except BrowserSetupError:
        raise
    except Exception as error:  # a JS error: a module or the wasm did not load, no worker
        where = options.assets_url or "the installed package (as blob: URLs)"
        raise BrowserSetupError(
            f"tabsqlite could not start its browser side from {where}: {error}"
        ) from error


def in_worker() -> bool:
    """Whether this Pyodide runs in a worker (no ``document``)."""
    import js  # type: ignore[import-not-found]

    return not hasattr(js, "document")


async def _start(options: BootOptions) -> Glue:
    import js
    from pyodide.code import run_js  # type: ignore[import-not-found]
    from pyodide.ffi import to_js  # type: ignore[import-not-found]

    worker = in_worker()
    entry = f"{GLUE_DIR}/{'worker_glue' if worker else 'db_proxy'}.mjs"
    if options.assets_url is not None:
        base = options.assets_url
        module_url = f"{base}/{entry}"
        wasm_url: str | None = None  # beside sqlite-wasm's index.mjs
        db_worker_url: str | None = None  # beside db_proxy.mjs
    else:
        linker = ModuleLinker(read_asset(asset_root()), blob_url)
        module_url = linker.url(entry)
        wasm_url = linker.file_url(f"{SQLITE_DIR}/sqlite3.wasm", "application/wasm")
        db_worker_url = None if worker else linker.url(f"{GLUE_DIR}/db_worker.mjs")
    module = await run_js("(url) => import(url)")(module_url)
    settings: dict[str, Any] = {"handles": options.handles,
                                "defaultDirectory": options.default_directory}
    if wasm_url is not None:
        settings["wasmURL"] = wasm_url
    if db_worker_url is not None:
        settings["workerURL"] = db_worker_url
    js_settings = to_js(settings, dict_converter=js.Object.fromEntries)
    start = module.workerGlue if worker else module.mainGlue
    glue: Glue = await start(js_settings)
    return glue
