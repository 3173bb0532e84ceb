"""What crosses between Python and the shim, as plain values: parameter checks and float
masks going in, the compact answers coming back. Pure Python (no ``js``), so CPython tests
it (``tests/test_pyodide_wire.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from ...commit_tracking import StatementInfo
from ...conversions import convert_value
from ...errors import BadCallError

_MAX_INT64 = 2**63 - 1
_MIN_INT64 = -(2**63)


_SEP = "\x1e"
_UNIT = "\x1f"


_PLAIN_TYPES = frozenset({int, str, float, bool, type(None)})
# A value of a result row that JS could not carry as is: the shim names its kind.
_FIXUPS: dict[str, Callable[[Any], Any]] = {
    "f": float,  # a REAL with an integral value (a JS number)
    "b": bytes,  # a BLOB (a Uint8Array)
    "i": int,  # an INTEGER beyond 2**53 (a BigInt)
}


# Not parameter sets although iterable. A tuple: isinstance with ``str | bytes | bytearray``
# builds the union on every call, ~2 us each in Pyodide (per row of execute_many).
_TEXT_LIKE = (str, bytes, bytearray)
_BYTES_LIKE = (bytes, bytearray, memoryview)
_MASK_POSITIONS = 31  # positions a mask can name (a JS number's bit operations)
_KEYS_KEPT = 512  # statement keys a connection remembers (by SQL text and value types)


def _plain_reals(params: Any) -> int | None:
    """The fast path: ``None`` if ``params`` can't go to JS as plain arguments, else the
    mask of its REAL values (bit ``i``: value ``i`` is a float). Pyodide passes ints as
    numbers or exact BigInts and strs as strings, and the shim refuses what SQLite cannot
    take (ints beyond 64 bits, strs with unpaired surrogates); but 2.0 arrives as the
    number 2, so the shim is told which values are floats. This runs for every statement:
    one ``type()`` lookup per value."""
    kind = type(params)
    if kind is not list and kind is not tuple:
        return None
    mask = 0
    for i, v in enumerate(params):
        kind = type(v)
        if kind is float:
            if i >= _MASK_POSITIONS:
                return None  # the converting path names the positions in a list
            mask |= 1 << i
        elif kind not in _PLAIN_TYPES:
            return None
    return mask


def _real_keys(keyed_types: Iterable[tuple[Any, type]]) -> int | list[Any]:
    """The keys (positions or names) of the float values: a mask (see :func:`_plain_reals`)
    if all are positions it can name, else a list; 0 for none."""
    keys = [k for k, t in keyed_types if issubclass(t, float)]
    mask = 0
    for k in keys:
        if type(k) is not int or k >= _MASK_POSITIONS:
            return keys
        mask |= 1 << k
    return mask


def _value(v: Any) -> Any:
    if v is None or isinstance(v, float):
        return v
    if isinstance(v, str):
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            raise BadCallError("str parameter is not valid Unicode") from None
        return v
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        if not _MIN_INT64 <= v <= _MAX_INT64:
            raise BadCallError("OverflowError: Python int too large for an SQLite INTEGER")
        return v
    if isinstance(v, _BYTES_LIKE):
        return bytes(v)
    text = convert_value(v)
    if text is not None:
        return text
    raise BadCallError(f"Error binding parameter: type {type(v).__name__!r} is not supported")


def _parse_facts(facts: str) -> StatementInfo:
    """``rollback␞writes␞ddl`` (tables joined by \\x1f) from the shim's compact result."""
    rollback, writes, ddl = facts.split(_SEP)
    return StatementInfo(
        set(writes.split(_UNIT)) if writes else set(),
        set(ddl.split(_UNIT)) if ddl else set(),
        rollback == "1",
        True,
    )


class Done(NamedTuple):
    """The string answer of a statement without result columns (see ``answers.mjs``)."""

    #: Rows the statement changed (-1 for a read-only one).
    affected: int
    #: ``last_insert_rowid()`` after it.
    rowid: int
    #: ``wasInTx | inTx << 1 | rowsChanged << 2``.
    flags: int
    #: The statement's facts, ``rollback␞writes␞ddl`` (see :func:`_parse_facts`).
    facts: str


def parse_done(raw: str) -> Done:
    """``"1␞affected␞rowid␞flags␞facts"``, the shim's answer for a statement without result
    columns."""
    _, affected, rowid, flags, facts = raw.split(_SEP, 4)
    return Done(int(affected), int(rowid), int(flags), facts)


def _small_value(text: str) -> Any:
    tag = text[0]
    if tag == "t":
        return text[1:]
    if tag == "i":
        return int(text[1:])
    if tag == "r":
        return float(text[1:])
    if tag == "n":
        return None
    raise ValueError(f"not a tagged value: {text[:20]!r}")


class SmallRows(NamedTuple):
    """The string answer of a small result (see ``answers.mjs``, ``smallRows``)."""

    done: Done
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def parse_small_rows(raw: str) -> SmallRows:
    """``"2␞affected␞rowid␞flags␞rollback␞writes␞ddl␞columns␞rowCount␞v␞v..."``: a small
    result with its values tagged ``i`` (INTEGER), ``r`` (REAL), ``t`` (TEXT), ``n`` (NULL)."""
    parts = raw.split(_SEP)
    facts = parts[4] + _SEP + parts[5] + _SEP + parts[6]
    columns = tuple(parts[7].split(_UNIT))
    count = int(parts[8])
    values = [_small_value(v) for v in parts[9:]]
    width = len(columns)
    if width * count != len(values):
        raise ValueError(f"{len(values)} values do not make {count} rows of {width}")
    rows = [tuple(values[i:i + width]) for i in range(0, len(values), width)]
    return SmallRows(Done(int(parts[1]), int(parts[2]), int(parts[3]), facts), columns, rows)


class Failure(NamedTuple):
    """The answer of a statement that failed: ``[0, message, code, kind, wasInTx, inTx]``."""

    message: str
    #: SQLite's extended result code (0 when the failure is not SQLite's).
    code: int
    #: ``"sqlite"``, ``"timeout"`` (stopped at its deadline) or ``"programming"`` (a bad
    #: call: several statements, a parameter SQLite can't bind ...).
    kind: str
    was_in_tx: bool
    in_tx: bool


class Rows(NamedTuple):
    """The answer of a statement with result columns, its values made faithful (see
    ``_FIXUPS``)."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    affected: int
    lastrowid: int | None
    was_in_tx: bool
    in_tx: bool
    #: Whether the statement changed any row (SQLite's total_changes moved).
    changed: bool
    info: StatementInfo


def decode_answer(out: list[Any]) -> Failure | Rows:
    """The shim's array answer (converted to Python lists) with its fields named."""
    if out[0] == 0:
        _, message, code, kind, was_in_tx, in_tx = out
        return Failure(str(message), int(code or 0), str(kind), bool(was_in_tx), bool(in_tx))
    (_, columns, rows, affected, lastrowid, was_in_tx, in_tx, changed, writes, ddl,
     rollback, fixups) = out
    for r, c, kind in fixups:
        rows[r][c] = _FIXUPS[kind](rows[r][c])
    return Rows(
        tuple(columns), [tuple(row) for row in rows], int(affected),
        int(lastrowid) if lastrowid is not None else None, bool(was_in_tx), bool(in_tx),
        bool(changed), StatementInfo(set(writes), set(ddl), bool(rollback), True),
    )
