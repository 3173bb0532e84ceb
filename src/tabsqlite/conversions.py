"""How Python values SQLite has no type for are bound: one conversion for every runtime.

SQLite stores NULL, INTEGER, REAL, TEXT and BLOB. ``None``, ``int`` (64-bit), ``bool``
(as 0/1), ``float``, ``str`` and bytes-like values bind as themselves. These are converted
the same way in a tab and in a process:

=====================  ==========================================  ===========================
Python                 bound as                                    example
=====================  ==========================================  ===========================
``datetime.datetime``  TEXT, ISO 8601 with a space (``isoformat(" ")``)  ``2026-11-28 09:30:00``
``datetime.date``      TEXT, ISO 8601 (``isoformat()``)             ``2026-11-28``
``datetime.time``      TEXT, ISO 8601 (``isoformat()``)             ``09:30:00.250000``
``decimal.Decimal``    TEXT, its exact digits (``str()``)           ``19.99``
=====================  ==========================================  ===========================

The text is what SQLite's date functions read (``date(col)``, ``julianday(col)``) and sorts
in time order for values of one time zone; a timezone-aware value keeps its offset
(``+02:00``). A ``Decimal`` keeps every digit in a TEXT column; in a NUMERIC, REAL or
INTEGER column SQLite stores it as a number. A ``Decimal`` that is not finite (NaN,
Infinity) is refused. Values come back as SQLite stored them (TEXT stays ``str``): parse
them with ``datetime.fromisoformat`` / ``Decimal``. Any other type raises
:class:`~tabsqlite.BadCallError` naming it.
"""

from __future__ import annotations

import datetime
import decimal
from typing import Any

from .errors import BadCallError

__all__ = ["convert_value"]


def _datetime(value: datetime.datetime) -> str:
    return value.isoformat(" ")


def _isoformat(value: datetime.date | datetime.time) -> str:
    return value.isoformat()


def _decimal(value: decimal.Decimal) -> str:
    if not value.is_finite():
        raise BadCallError(f"Decimal {value} cannot be stored: only finite Decimals can")
    return str(value)


_CONVERTERS: dict[type, Any] = {
    datetime.datetime: _datetime,
    datetime.date: _isoformat,
    datetime.time: _isoformat,
    decimal.Decimal: _decimal,
}
_BASES = tuple(_CONVERTERS)


def convert_value(value: object) -> str | None:
    """The TEXT a value of a converted type is bound as (see the module's table), or
    ``None`` if ``value``'s type is not one of them. Subclasses (e.g. ``pandas.Timestamp``,
    a ``datetime``) convert like their base.

    :param value: a parameter value that is not a plain SQLite value.
    """
    convert = _CONVERTERS.get(type(value))
    if convert is None:
        if not isinstance(value, _BASES):
            return None
        convert = next(c for base, c in _CONVERTERS.items() if isinstance(value, base))
    text: str = convert(value)
    return text
