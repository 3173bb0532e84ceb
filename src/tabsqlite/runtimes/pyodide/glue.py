"""The JS module ``tabsqlite_glue`` (registered by ``js_glue`` before tabsqlite is
imported), Pyodide's FFI, and awaiting its promises."""

from __future__ import annotations

import asyncio
from typing import Any

from ...runtime import wait_out


def _glue() -> Any:
    import tabsqlite_glue  # type: ignore[import-not-found]  # registered by js_glue

    return tabsqlite_glue


def _ffi() -> Any:
    import pyodide.ffi  # type: ignore[import-not-found]

    return pyodide.ffi


async def _awaited(promise: Any) -> Any:
    return await promise


async def _settled(promise: Any) -> Any:
    """The value of a JS promise, waited for whatever cancellations arrive (None if it
    fails)."""
    answer = asyncio.ensure_future(_awaited(promise))
    await wait_out(answer)
    if answer.cancelled() or answer.exception() is not None:
        return None
    return answer.result()
