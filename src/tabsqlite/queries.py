"""Result objects and the query helpers shared by :class:`Database` and transactions."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from .errors import NotFoundError
from .runtime import Params, Result

__all__ = ["Queries", "Result", "Row"]

Row = dict[str, Any]


class Queries(ABC):
    """``execute``, ``execute_many``, ``get_all``, ``get_optional`` and ``get``."""

    @abstractmethod
    async def _query(
        self, sql: str, params: Params, many: bool, timeout: float | None = None
    ) -> Result: ...

    async def execute(
        self, sql: str, params: Params = (), *, timeout: float | None = None
    ) -> Result:
        """Run one SQL statement.

        :param sql: one statement, with ``?`` or ``:name`` placeholders.
        :param params: its values: a sequence, or a mapping for ``:name`` placeholders.
        :param timeout: seconds the call may take, waiting for the database included;
            past it the statement is stopped in SQLite and
            :class:`~tabsqlite.QueryTimeoutError` is raised (``None``: no limit).
        """
        return await self._query(sql, params, False, timeout)

    async def execute_many(
        self, sql: str, seq_of_params: Sequence[Params], *, timeout: float | None = None
    ) -> Result:
        """Run one statement once per parameter set, with a single call into the runtime.

        :param sql: one statement, with ``?`` or ``:name`` placeholders.
        :param seq_of_params: one sequence or mapping of values per run.
        :param timeout: seconds for the whole call (see :meth:`execute`).
        """
        return await self._query(sql, list(seq_of_params), True, timeout)

    async def get_all(
        self, sql: str, params: Params = (), *, timeout: float | None = None
    ) -> list[Row]:
        """All rows of a query, as dictionaries.

        :param sql: one query.
        :param params: its values (see :meth:`execute`).
        :param timeout: seconds the call may take (see :meth:`execute`).
        """
        return (await self._query(sql, params, False, timeout)).dicts()

    async def get_optional(
        self, sql: str, params: Params = (), *, timeout: float | None = None
    ) -> Row | None:
        """The first row of a query, or ``None``.

        :param sql: one query.
        :param params: its values (see :meth:`execute`).
        :param timeout: seconds the call may take (see :meth:`execute`).
        """
        # (the hot path: no get_all layer, and only the first row made a dictionary)
        return (await self._query(sql, params, False, timeout)).first()

    async def get(self, sql: str, params: Params = (), *, timeout: float | None = None) -> Row:
        """The first row of a query; :class:`NotFoundError` if there is none.

        :param sql: one query.
        :param params: its values (see :meth:`execute`).
        :param timeout: seconds the call may take (see :meth:`execute`).
        """
        row = await self.get_optional(sql, params, timeout=timeout)
        if row is None:
            raise NotFoundError(f"query returned no rows: {sql[:200]}")
        return row
