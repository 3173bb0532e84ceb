"""Which tables does a query read? Asked of SQLite itself, through ``EXPLAIN``.

The program of a statement opens a cursor (``OpenRead``/``OpenWrite``) on the root page of
every table or index it touches; ``sqlite_schema`` maps root pages back to table names.
Views and CTEs are expanded by SQLite, so their base tables show up.
"""

from __future__ import annotations

from .queries import Queries
from .runtime import Params

__all__ = ["infer_tables"]

_OPEN_OPS = {"OpenRead", "OpenWrite", "ReopenIdx"}
_SCHEMA_TABLE = {0: "sqlite_schema", 1: "sqlite_temp_schema"}


async def infer_tables(db: Queries, sql: str, params: Params = ()) -> frozenset[str] | None:
    """Lower-case names of the tables ``sql`` reads; ``None`` when unknowable (virtual
    tables, attached databases): then every change must be treated as relevant."""
    program = await db.get_all("EXPLAIN " + sql, params)
    pages: dict[int, set[int]] = {}
    for op in program:
        opcode = op.get("opcode")
        if opcode == "VOpen":
            return None
        if opcode in _OPEN_OPS:
            schema = int(op["p3"])
            if schema not in _SCHEMA_TABLE:
                return None
            pages.setdefault(schema, set()).add(int(op["p2"]))
    tables: set[str] = set()
    for schema, roots in pages.items():
        marks = ",".join("?" * len(roots))
        rows = await db.get_all(
            f"SELECT DISTINCT tbl_name FROM {_SCHEMA_TABLE[schema]} WHERE rootpage IN ({marks})",
            sorted(roots),
        )
        found = {str(row["tbl_name"]).lower() for row in rows}
        if len(rows) == 0 and roots:
            return None
        tables |= found
    return frozenset(t for t in tables if not t.startswith("sqlite_"))
