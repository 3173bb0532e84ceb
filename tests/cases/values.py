"""Parameter conversions and error codes: the same on every runtime."""

from __future__ import annotations

import datetime
import decimal
from typing import Any

import tabsqlite


async def case_dates_times_and_decimals_bind_as_iso_text(ctx: Any) -> None:
    db = await ctx.open()
    await db.execute("CREATE TABLE t(k TEXT, v, n NUMERIC)")
    when = datetime.datetime(2026, 11, 28, 9, 30, 0, 250000)
    aware = datetime.datetime(2026, 11, 28, 9, 30, tzinfo=datetime.timezone(
        datetime.timedelta(hours=2)))
    values = {
        "datetime": (when, "2026-11-28 09:30:00.250000"),
        "aware": (aware, "2026-11-28 09:30:00+02:00"),
        "date": (datetime.date(2026, 11, 28), "2026-11-28"),
        "time": (datetime.time(9, 30, 1), "09:30:01"),
        "decimal": (decimal.Decimal("19.990"), "19.990"),
    }
    for key, (value, _) in values.items():
        await db.execute("INSERT INTO t(k, v) VALUES (?, ?)", [key, value])
    await db.execute_many("INSERT INTO t(k, v) VALUES (:k, :v)",
                          [{"k": f"many {k}", "v": v} for k, (v, _) in values.items()])
    async with db.write_transaction() as tx:
        await tx.execute("INSERT INTO t(k, v) VALUES (:k, :v)", {"k": "named", "v": when})
    rows = {r["k"]: (r["t"], r["v"])
            for r in await db.get_all("SELECT k, typeof(v) AS t, v FROM t")}
    for key, (_, text) in values.items():
        assert rows[key] == ("text", text), (key, rows[key])
        assert rows[f"many {key}"] == ("text", text), (key, rows[f"many {key}"])
    assert rows["named"] == ("text", values["datetime"][1])
    # SQLite's date functions read them; they come back as text to parse.
    row = await db.get("SELECT date(v) AS d, julianday(v) > 0 AS ok FROM t WHERE k = 'datetime'")
    assert row == {"d": "2026-11-28", "ok": 1}
    back = await db.get("SELECT v FROM t WHERE k = 'datetime'")
    assert datetime.datetime.fromisoformat(back["v"]) == when
    # A Decimal in a NUMERIC column is a number; in a TEXT-less column it keeps its digits.
    await db.execute("INSERT INTO t(k, n) VALUES ('num', ?)", [decimal.Decimal("2.50")])
    assert await db.get("SELECT typeof(n) AS t, n FROM t WHERE k = 'num'") == {
        "t": "real", "n": 2.5}


async def case_values_without_a_conversion_are_refused_by_name(ctx: Any) -> None:
    db = await ctx.open()
    for bad, name in ((object(), "object"), (decimal.Decimal("NaN"), "NaN"),
                      ({1, 2}, "set"), (decimal.Decimal("-Infinity"), "Infinity")):
        try:
            await db.execute("SELECT ?", [bad])
        except tabsqlite.BadCallError as error:
            assert name in str(error), str(error)
        else:
            raise AssertionError(f"{bad!r} was bound")
    assert await db.get("SELECT 1 AS one") == {"one": 1}  # still usable


async def case_sqlite_errors_carry_their_code_name(ctx: Any) -> None:
    db = await ctx.open()
    await db.execute("CREATE TABLE p(id INTEGER PRIMARY KEY, u TEXT UNIQUE, "
                     "n TEXT NOT NULL DEFAULT 'x', c INTEGER CHECK (c > 0))")
    await db.execute("INSERT INTO p(id, u) VALUES (1, 'a')")
    expected = {
        "INSERT INTO p(id) VALUES (1)": "SQLITE_CONSTRAINT_PRIMARYKEY",
        "INSERT INTO p(u) VALUES ('a')": "SQLITE_CONSTRAINT_UNIQUE",
        "INSERT INTO p(n) VALUES (NULL)": "SQLITE_CONSTRAINT_NOTNULL",
        "INSERT INTO p(c) VALUES (0)": "SQLITE_CONSTRAINT_CHECK",
    }
    for sql, name in expected.items():
        try:
            await db.execute(sql)
        except tabsqlite.ConstraintError as error:
            assert error.code_name == name, (sql, error.code_name)
            assert error.code == 19 and error.extended_code & 0xFF == 19
        else:
            raise AssertionError(f"{sql} did not fail")
    try:
        await db.execute("SELECT * FROM nowhere")
    except tabsqlite.SQLiteError as error:
        assert error.code_name == "SQLITE_ERROR", error.code_name
        assert "nowhere" in str(error)
    else:
        raise AssertionError("no error")
