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


def test_a_done_answer_is_named() -> None:
    sep = wire._SEP
    done = wire.parse_done(sep.join(["1", "3", "42", "6", "0", "t", ""]))
    assert done == wire.Done(3, 42, 6, sep.join(["0", "t", ""]))
    assert wire._parse_facts(done.facts).writes == {"t"}


def test_rows_come_back_faithful_and_named() -> None:
    rows = wire.decode_answer([1, ["a", "b"], [[2, b"x"], [1.5, 9007199254740993]], -1, 7,
                               0, 1, 0, [], [], 0, [[0, 0, "f"], [0, 1, "b"], [1, 1, "i"]]])
    assert isinstance(rows, wire.Rows)
    assert rows.columns == ("a", "b") and rows.lastrowid == 7
    assert rows.rows == [(2.0, b"x"), (1.5, 9007199254740993)]
    assert type(rows.rows[0][0]) is float
    assert (rows.was_in_tx, rows.in_tx, rows.changed) == (False, True, False)
    assert rows.info.writes == set() and not rows.info.rollback


def test_a_failure_is_named() -> None:
    failure = wire.decode_answer([0, "no such table: x", 1, "sqlite", 1, 0])
    assert failure == wire.Failure("no such table: x", 1, "sqlite", True, False)
    bad = wire.decode_answer([0, "two statements", None, "programming", 0, 0])
    assert isinstance(bad, wire.Failure) and bad.code == 0


def test_a_small_result_comes_as_tagged_text() -> None:
    """The string form the shim gives a point select: values tagged i/r/t/n, the columns
    and the facts as a done answer has them."""
    S, U = "\x1e", "\x1f"
    raw = S.join(["2", "-1", "7", "4", "0", "t", "", f"a{U}b{U}{U}c", "2",
                  "i42", "r0.1", "t", "n", "i-9007199254740991", "rInfinity", "th\u00e9 \n",
                  "r-2.5e-300"])
    small = wire.parse_small_rows(raw)
    assert small.done == wire.Done(-1, 7, 4, f"0{S}t{S}")
    assert small.columns == ("a", "b", "", "c")
    assert small.rows == [(42, 0.1, "", None), (-(2**53) + 1, float("inf"), "h\u00e9 \n",
                                               -2.5e-300)]
    assert [type(v) for v in small.rows[0]] == [int, float, str, type(None)]


def test_a_small_result_without_rows_or_with_one_column() -> None:
    S = "\x1e"
    assert wire.parse_small_rows(S.join(["2", "-1", "0", "0", "0", "", "", "x", "0"])).rows \
        == []
    one = wire.parse_small_rows(S.join(["2", "-1", "0", "0", "0", "", "", "", "1", "t"]))
    assert one.columns == ("",) and one.rows == [("",)]


def test_a_malformed_small_result_is_refused() -> None:
    S = "\x1e"
    with pytest.raises(ValueError):
        wire.parse_small_rows(S.join(["2", "-1", "0", "0", "0", "", "", "a", "1", "x1"]))
    with pytest.raises(ValueError):  # 3 values are not 2 rows of a width
        wire.parse_small_rows(S.join(["2", "-1", "0", "0", "0", "", "", "a", "2",
                                      "i1", "i2", "i3"]))
