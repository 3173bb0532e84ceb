"""Result objects and the query helpers shared by :class:`Database` and transactions."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import NotFoundError
from .runtime import Params, QueryResult

__all__ = ["Queries", "Result", "Row"]

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Result:
    """The outcome of :meth:`~Queries.execute`.

    ``rows`` are tuples in ``columns`` order; ``rows_affected`` is what SQLite counted for
    INSERT/UPDATE/DELETE (-1 otherwise); ``last_insert_rowid`` the rowid of the last insert.
    """

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    rows_affected: int
    last_insert_rowid: int | None

    @classmethod
    def of(cls, result: QueryResult) -> Result:
        """Build a public result from a driver result."""
        return cls(result.columns, result.rows, result.rowcount, result.lastrowid)

    def dicts(self) -> list[Row]:
        """The rows as dictionaries keyed by column name."""
        columns = self.columns
        return [dict(zip(columns, row, strict=True)) for row in self.rows]


class Queries(ABC):
    """``execute``, ``execute_many``, ``get_all``, ``get_optional`` and ``get``."""

    @abstractmethod
    async def _query(self, sql: str, params: Params, many: bool) -> QueryResult: ...

    async def execute(self, sql: str, params: Params = ()) -> Result:
        """Run one SQL statement with ``params`` (a sequence, or a mapping for ``:name``)."""
        return Result.of(await self._query(sql, params, False))

    async def execute_many(self, sql: str, seq_of_params: Sequence[Params]) -> Result:
        """Run one statement once per parameter set, with a single call into the runtime."""
        return Result.of(await self._query(sql, list(seq_of_params), True))

    async def get_all(self, sql: str, params: Params = ()) -> list[Row]:
        """All rows of a query, as dictionaries."""
        return Result.of(await self._query(sql, params, False)).dicts()

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
