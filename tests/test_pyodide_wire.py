"""The Pyodide runtime's wire encoding, which is plain Python: tested here on CPython (the
browser suite runs it for real)."""

from __future__ import annotations

import pytest

import tabsqlite
from tabsqlite.runtimes.pyodide import wire


def test_plain_parameters_get_a_mask_of_their_floats() -> None:
    assert wire._plain_reals([1, "a", 2.0, None, True, 3.5]) == 0b100100
    assert wire._plain_reals(()) == 0
    assert wire._plain_reals([b"blob"]) is None  # bytes take the converting path
    assert wire._plain_reals({"a": 1.0}) is None  # so do names
    assert wire._plain_reals([0.5] * 40) is None  # past the positions a mask can name


def test_real_keys_are_a_mask_or_a_list() -> None:
    assert wire._real_keys([(0, float), (1, int), (2, float)]) == 0b101
    assert wire._real_keys([("x", float), ("y", str)]) == ["x"]
    assert wire._real_keys([(40, float)]) == [40]
    assert wire._real_keys([]) == 0


@pytest.mark.parametrize(("value", "expected"), [
    (None, None), (1.5, 1.5), ("text", "text"), (True, 1), (2**63 - 1, 2**63 - 1),
    (bytearray(b"ab"), b"ab"), (memoryview(b"cd"), b"cd"),
])
def test_values_the_shim_takes(value: object, expected: object) -> None:
    assert wire._value(value) == expected


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, "\ud800", object(), [1]])
def test_values_the_shim_refuses_are_bad_calls(value: object) -> None:
    with pytest.raises(tabsqlite.BadCallError):
        wire._value(value)


def test_facts_of_a_compact_answer() -> None:
    info = wire._parse_facts("0" + wire._SEP + "a" + wire._UNIT + "b" + wire._SEP + "c")
    assert (info.writes, info.ddl, info.rollback, info.fired) == ({"a", "b"}, {"c"}, False, True)
    empty = wire._parse_facts("1" + wire._SEP + wire._SEP)
    assert (empty.writes, empty.ddl, empty.rollback) == (set(), set(), True)
