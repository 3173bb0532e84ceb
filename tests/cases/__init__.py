"""Cases written once and run on every runtime: ``tests/test_shared_cases.py`` runs them on
CPython, ``playwright/test_tab_shared_cases.py`` in a tab (both modes), from this same source.

A case is ``async def case_<what>(ctx)`` in one of the :data:`MODULES`; it opens databases
with ``ctx.open(name)`` (closed and deleted afterwards) and checks with ``assert``. Cases
import only ``tabsqlite`` and the standard library.
"""

from __future__ import annotations

import importlib
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import tabsqlite

#: The case modules, in the order they run.
MODULES = ("values", "scripts", "migrations", "snapshots", "durable")

Case = Callable[["Context"], Awaitable[None]]


class Context:
    """What a case gets: fresh database paths under ``root``, opened and cleaned up.

    :param root: an absolute directory of this case's own.
    """

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")
        self._opened: list[tabsqlite.Database] = []
        self._names = itertools.count(1)

    def path(self, name: str = "") -> str:
        """An absolute path of a database no other case uses.

        :param name: a plain file name (``""``: a new one).
        """
        return f"{self.root}/{name or f'db{next(self._names)}.db'}"

    async def open(self, name: str = "", **options: Any) -> tabsqlite.Database:
        """Open the database ``name`` of this case (see :meth:`path`).

        :param name: a plain file name, or an absolute path from :meth:`path`.
        :param options: :func:`tabsqlite.open_database`'s keyword arguments.
        """
        path = name if name.startswith("/") else self.path(name or "main.db")
        db = await tabsqlite.open_database(path, **options)
        self._opened.append(db)
        return db

    async def close(self) -> None:
        """Close every database the case opened, deleting their files."""
        for db in reversed(self._opened):
            if not db.closed:
                await db.close()
        paths = {db.path for db in self._opened}
        for db in self._opened:
            if db.path in paths:
                paths.discard(db.path)
                await db.close(delete_database=True)


def cases(module: str) -> dict[str, Case]:
    """The cases of ``module`` (one of :data:`MODULES`), by name, in source order.

    :param module: the module's name.
    """
    found = importlib.import_module(f"{__name__}.{module}")
    return {name: fn for name, fn in vars(found).items() if name.startswith("case_")}


def all_cases() -> list[tuple[str, str]]:
    """Every ``(module, case)`` pair."""
    return [(module, name) for module in MODULES for name in cases(module)]


async def run_case(module: str, name: str, root: str) -> None:
    """Run one case in a fresh :class:`Context` under ``root``; raise what it raises.

    :param module: the case's module.
    :param name: the case's function name.
    :param root: an absolute directory for its databases.
    """
    ctx = Context(root)
    try:
        await cases(module)[name](ctx)
    finally:
        await ctx.close()
