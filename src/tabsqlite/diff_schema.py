"""The SQL of a diff: its storage table, its view, its triggers, created and dropped inside
a caller's write transaction. :mod:`.triggers` and :mod:`.consumers` decide when and under
which hold; this module only decides what the statements say."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import BadCallError, NoSuchTableError
from .identifiers import check_expression, quote_identifier, validate_identifier
from .names import managed_trigger_name, storage_table
from .queries import Queries
from .transactions import Transaction

__all__ = [
    "DIFF_COLUMNS",
    "DiffShape",
    "check_columns",
    "check_diff_call",
    "check_when",
    "create_diff",
    "drop_diff",
    "resolve_shape",
    "table_exists",
]

OPERATIONS = ("INSERT", "UPDATE", "DELETE")
_JSON_CHUNK = 50  # columns per json_object() call (SQLite allows 127 arguments by default)
_MAX_TRACKED_COLUMNS = 990  # two stored copies each, under SQLite's 2000-column limit
#: The columns of a diff view, in order.
DIFF_COLUMNS = "operation_id, id, operation, timestamp, value, previous_value"

When = Mapping[str, str | None]


def _json_of(names: Sequence[str], prefix: str) -> str:
    """SQL for the JSON object of stored copies ``<prefix>0..`` keyed by ``names`` (blobs as
    hex text): a column of the diff view, computed when the row is read."""
    if not names:
        return "json_object()"
    parts = []
    for start in range(0, len(names), _JSON_CHUNK):
        args = []
        for i in range(start, min(start + _JSON_CHUNK, len(names))):
            q = f"{prefix}{i}"
            literal = "'" + names[i].replace("'", "''") + "'"
            args.append(f"{literal}, iif(typeof({q}) = 'blob', hex({q}), {q})")
        parts.append(f"json_object({', '.join(args)})")
    expr = parts[0]
    for part in parts[1:]:
        expr = f"json_patch({expr}, {part})"
    return expr


_OP_CODES = {"INSERT": 1, "UPDATE": 2, "DELETE": 3}


def _destination_sql(
    destination: str, columns: Sequence[str], temp: bool, with_previous: bool,
    keep_existing: bool = False,
) -> list[str]:
    """The diff: a storage table and, named ``destination``, a view of it (DELETE through the
    view works). Triggers store plain copies: the operation as a small integer, the time as a
    julian day number, the values (``_v<i>`` of NEW, or OLD for DELETE; ``_p<i>`` of OLD for
    UPDATE, only when UPDATE is tracked: unused columns still cost each stored row). The view
    formats them as the documented columns when read: building JSON and text on every write
    cost more than the write itself (and generated columns are computed on insert too), and
    so did AUTOINCREMENT (a read and a write of ``sqlite_sequence`` per row), so
    ``operation_id`` is the rowid."""
    n = len(columns)
    temp_sql = "TEMP " if temp else ""
    storage = quote_identifier(storage_table(destination))
    view = quote_identifier(destination)
    stored = "".join(f", _v{i}" for i in range(n))
    previous = "NULL"
    if with_previous:
        stored += "".join(f", _p{i}" for i in range(n))
        previous = f"iif(_op = {_OP_CODES['UPDATE']}, {_json_of(columns, '_p')}, NULL)"
    operation = " ".join(f"WHEN {code} THEN '{op}'" for op, code in _OP_CODES.items())
    new = "IF NOT EXISTS " if keep_existing else ""
    return [
        f"CREATE {temp_sql}TABLE {new}{storage} (operation_id INTEGER PRIMARY KEY, id, _op, "
        f"_at{stored})",
        f"CREATE {temp_sql}VIEW {new}{view} AS SELECT operation_id, id, "
        f"CASE _op {operation} END AS operation, "
        "strftime('%Y-%m-%dT%H:%M:%fZ', _at) AS timestamp, "
        f"{_json_of(columns, '_v')} AS value, "
        f"{previous} AS previous_value "
        f"FROM {storage}",
    ]


def _view_delete_sql(name: str, destination: str, temp: bool) -> str:
    return (
        f"CREATE {'TEMP ' if temp else ''}TRIGGER {quote_identifier(name)} INSTEAD OF DELETE "
        f"ON {quote_identifier(destination)} BEGIN DELETE FROM "
        f"{quote_identifier(storage_table(destination))} "
        "WHERE operation_id = OLD.operation_id; END"
    )


def check_when(when: object) -> dict[str, str | None]:
    if not isinstance(when, Mapping) or not when:
        raise BadCallError(
            "when must be a non-empty mapping of 'INSERT'/'UPDATE'/'DELETE' to a SQL "
            "condition or None"
        )
    checked: dict[str, str | None] = {}
    for op, condition in when.items():
        if not isinstance(op, str) or op.upper() not in OPERATIONS:
            raise BadCallError(f"unknown operation {op!r} in when")
        checked[op.upper()] = (
            None if condition is None else check_expression(condition, f"when[{op!r}]")
        )
    return checked


def check_columns(columns: object) -> None:
    """Raise :class:`BadCallError` unless ``columns`` is ``None`` or a list of names.

    :param columns: the ``columns`` argument of a diff.
    """
    if columns is None:
        return
    if isinstance(columns, str) or not isinstance(columns, Sequence):
        raise BadCallError("columns must be a list of column names or None")
    for col in columns:
        validate_identifier(col, "column")


def check_diff_call(source: object, when: object, columns: object,
                    id_column: object) -> dict[str, str | None]:
    """Check the arguments every diff takes (before anything runs); the checked ``when``.

    :param source: the table to track.
    :param when: see :func:`check_when`.
    :param columns: see :func:`check_columns`.
    :param id_column: the column recorded as ``id``.
    """
    validate_identifier(source, "source")
    ops = check_when(when)
    validate_identifier(id_column, "id_column")
    check_columns(columns)
    return ops


@dataclass(frozen=True, slots=True)
class DiffShape:
    """What a diff records, resolved against the source table's columns.

    :param source: the tracked table, spelled as the schema spells it.
    :param ops: the tracked operations, each with its WHEN condition or ``None``.
    :param tracked: the recorded columns, spelled as the table spells them.
    :param id_ref: the column recorded as ``id`` (or ``"rowid"``).
    :param first_column: the table's first column (for the compile check).
    """

    source: str
    ops: dict[str, str | None]
    tracked: list[str]
    id_ref: str
    first_column: str

    def spec(self) -> dict[str, Any]:
        """The shape as plain JSON-able values (what a durable consumer's registry keeps)."""
        return {"source": self.source, "ops": self.ops, "tracked": self.tracked,
                "id": self.id_ref}


def _column(lower: dict[str, str], name: str) -> str:
    try:
        return lower[name.lower()]
    except KeyError:
        raise BadCallError(f"no column {name!r} in the source table") from None


async def resolve_shape(tx: Transaction, source: str, ops: dict[str, str | None],
                        columns: Sequence[str] | None, id_column: str) -> DiffShape:
    """Read ``source``'s columns and resolve what a diff of it records.

    :param tx: the write transaction the diff will be created in.
    :param source: the table (validated).
    :param ops: checked by :func:`check_when`.
    :param columns: checked by :func:`check_columns` (``None``: all columns).
    :param id_column: the column recorded as ``id`` (``"rowid"`` works too).
    """
    info = await tx.get_all("SELECT name FROM pragma_table_info(?) ORDER BY cid", [source])
    exists = await tx.get_optional(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name = ? COLLATE NOCASE",
        [source],
    )
    if exists is None or not info:
        raise NoSuchTableError(source)
    names = [str(r["name"]) for r in info]
    lower = {n.lower(): n for n in names}
    tracked = names if columns is None else [_column(lower, c) for c in columns]
    if len(tracked) > _MAX_TRACKED_COLUMNS:
        raise BadCallError(
            f"{len(tracked)} columns are more than a diff table can hold "
            f"({_MAX_TRACKED_COLUMNS}); pass columns=[...]"
        )
    rowid = id_column.lower() in ("rowid", "oid", "_rowid_") and id_column.lower() not in lower
    id_ref = "rowid" if rowid else _column(lower, id_column)
    return DiffShape(str(exists["name"]), ops, tracked, id_ref, names[0])


async def create_diff(tx: Transaction, trigger_id: str, destination: str, shape: DiffShape,
                      persisted: bool,
                      before_create: Callable[[Transaction], Awaitable[Any]] | None = None,
                      keep_existing: bool = False) -> list[str]:
    """Create the storage table, the view ``destination`` and the triggers; return the
    triggers' names (the view's INSTEAD OF DELETE last).

    :param tx: a write transaction.
    :param trigger_id: the id in the trigger names.
    :param destination: the diff view's name (validated).
    :param shape: what to record.
    :param persisted: in the file (else TEMP).
    :param before_create: run just before the triggers exist.
    :param keep_existing: keep a storage table and view of that name with their rows (they
        must have the same shape) and replace triggers of the same names: a repair.
    """
    ops = shape.ops
    for sql in _destination_sql(destination, shape.tracked, not persisted,
                                with_previous="UPDATE" in ops, keep_existing=keep_existing):
        await tx.execute(sql)
    if before_create is not None:
        await before_create(tx)
    names = [managed_trigger_name(trigger_id, op.lower()) for op in ops]
    delete_name = managed_trigger_name(trigger_id, "view_delete")
    if keep_existing:
        schema = "main" if persisted else "temp"
        for name in [*names, delete_name]:
            await tx.execute(f"DROP TRIGGER IF EXISTS {schema}.{quote_identifier(name)}")
    for op, name in zip(ops, names, strict=True):
        await tx.execute(_trigger_sql(name, op, ops[op], destination, shape, persisted))
    await tx.execute(_view_delete_sql(delete_name, destination, not persisted))
    await _compile_check(tx, shape)
    return [*names, delete_name]


async def drop_diff(tx: Transaction, triggers: Iterable[str], destination: str,
                    persisted: bool) -> None:
    """Drop a diff's triggers, view and storage table (whichever still exist).

    :param tx: a write transaction.
    :param triggers: the triggers' names.
    :param destination: the diff view's name.
    :param persisted: in the file (else TEMP).
    """
    schema = "main" if persisted else "temp"
    for name in triggers:
        await tx.execute(f"DROP TRIGGER IF EXISTS {schema}.{quote_identifier(name)}")
    kind = await tx.get_optional(
        f"SELECT type FROM {schema}.sqlite_schema WHERE name = ? AND type IN ('view', 'table')",
        [destination],
    )
    if kind is not None:
        await tx.execute(f"DROP {str(kind['type']).upper()} {schema}."
                         f"{quote_identifier(destination)}")
    await tx.execute(
        f"DROP TABLE IF EXISTS {schema}.{quote_identifier(storage_table(destination))}"
    )


async def _compile_check(tx: Transaction, shape: DiffShape) -> None:
    """Compile (never run) a write of each tracked kind, which compiles the new triggers:
    a WHEN filter naming a missing column fails here rather than on the user's writes."""
    table = quote_identifier(shape.source)
    col = quote_identifier(shape.first_column)
    statements = {
        "INSERT": f"EXPLAIN INSERT INTO {table} DEFAULT VALUES",
        "UPDATE": f"EXPLAIN UPDATE {table} SET {col} = {col}",
        "DELETE": f"EXPLAIN DELETE FROM {table}",
    }
    # A fresh text each time: SQLite 3.40 (CPython's here) crashes stepping a cached
    # EXPLAIN of a write that it re-prepares after the table's triggers changed
    # (tests/test_triggers.py::test_compile_check_survives_trigger_churn).
    fresh = f"\n-- {secrets.token_hex(8)}"
    for op in shape.ops:
        await tx.execute(statements[op] + fresh)


def _trigger_sql(name: str, op: str, condition: str | None, destination: str,
                 shape: DiffShape, persisted: bool) -> str:
    columns = shape.tracked
    ref = "OLD" if op == "DELETE" else "NEW"
    row_id = "rowid" if shape.id_ref == "rowid" else quote_identifier(shape.id_ref)
    targets = [f"_v{i}" for i in range(len(columns))]
    values = [f"{ref}.{quote_identifier(c)}" for c in columns]
    if op == "UPDATE":
        targets += [f"_p{i}" for i in range(len(columns))]
        values += [f"OLD.{quote_identifier(c)}" for c in columns]
    when_sql = f" WHEN ({condition})" if condition is not None else ""
    kind = "TRIGGER" if persisted else "TEMP TRIGGER"
    source = quote_identifier(shape.source)
    target = source if persisted else f"main.{source}"
    names = ", ".join(["id", "_op", "_at", *targets])
    # The time costs more than its call: a function in a trigger makes SQLite keep a
    # statement journal (a copy of each page the statement touches) for every write
    # inside a transaction. Tables with NOT NULL or UNIQUE columns keep one anyway, and
    # a function-free clock would be wrong for writers outside tabsqlite (README, fig 6).
    row = ", ".join([f"{ref}.{row_id}", str(_OP_CODES[op]), "julianday('now')", *values])
    return (
        f"CREATE {kind} {quote_identifier(name)} AFTER {op} ON {target}{when_sql} BEGIN "
        f"INSERT INTO {quote_identifier(storage_table(destination))} ({names}) "
        f"VALUES ({row}); END"
    )


async def table_exists(queries: Queries, name: str) -> bool:
    """True if the database has a table ``name`` (in ``main``).

    :param queries: where to look.
    :param name: the table.
    """
    row = await queries.get_optional(
        "SELECT 1 AS ok FROM sqlite_schema WHERE type = 'table' AND name = ?", [name]
    )
    return row is not None
