"""Result objects and the query helpers shared by :class:`Database` and transactions."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from .errors import NotFoundError
from .runtime import Params, QueryResult, Result

__all__ = ["Queries", "Result", "Row"]

Row = dict[str, Any]


class Queries(ABC):
    """``execute``, ``execute_many``, ``get_all``, ``get_optional`` and ``get``."""

    @abstractmethod
    async def _query(self, sql: str, params: Params, many: bool) -> QueryResult: ...

    async def execute(self, sql: str, params: Params = ()) -> Result:
        """Run one SQL statement with ``params`` (a sequence, or a mapping for ``:name``)."""
        return await self._query(sql, params, False)

    async def execute_many(self, sql: str, seq_of_params: Sequence[Params]) -> Result:
        """Run one statement once per parameter set, with a single call into the runtime."""
        return await self._query(sql, list(seq_of_params), True)

    async def get_all(self, sql: str, params: Params = ()) -> list[Row]:
        """All rows of a query, as dictionaries."""
        return (await self._query(sql, params, False)).dicts()

    async def get_optional(self, sql: str, params: Params = ()) -> Row | None:
        """The first row of a query, or ``None``."""
        rows = await self.get_all(sql, params)
        return rows[0] if rows else None

    async def get(self, sql: str, params: Params = ()) -> Row:
        """The first row of a query; :class:`NotFoundError` if there is none."""
        row = await self.get_optional(sql, params)
        if row is None:
            raise NotFoundError(f"query returned no rows: {sql[:200]}")
        return row
