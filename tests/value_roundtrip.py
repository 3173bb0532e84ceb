"""Values that must come back as they went in, on every runtime (the browser test runs this
file's source in a tab). A float with an integral value (2.0) reaches JS as the number 2:
it must still be stored as REAL, in an untyped column where no affinity would fix it."""

from typing import Any

VALUES = [2.0, 0.0, -3.0, 1e16, 1.5, 7, 2**60, -(2**63), True, None, "h\u00e9 \U0001f600",
          b"\x00\x01", float("inf"), float("-inf"), 0.1, -2.5e-300, 2**53 + 1,
          'q"\\\x1e\x1f\x00\n\t</', "", b""]
EXPECTED_TYPES = ["real", "real", "real", "real", "real", "integer", "integer", "integer",
                  "integer", "null", "text", "blob", "real", "real", "real", "real", "integer",
                  "text", "text", "blob"]


async def round_trip(db: Any) -> list[tuple[str, list[tuple[str, Any]]]]:
    """Insert VALUES by every path; return [(path, [(typeof, value), ...]), ...]."""
    await db.execute("DROP TABLE IF EXISTS vals")
    await db.execute("CREATE TABLE vals(path TEXT, pos INTEGER, v)")
    for pos, v in enumerate(VALUES):
        await db.execute("INSERT INTO vals VALUES ('execute', ?, ?)", [pos, v])
        await db.execute("INSERT INTO vals VALUES ('named', :pos, :v)", {"pos": pos, "v": v})
    await db.execute_many("INSERT INTO vals VALUES ('many', ?, ?)", list(enumerate(VALUES)))
    await db.execute_many("INSERT INTO vals VALUES ('named_many', :pos, :v)",
                          [{"pos": pos, "v": v} for pos, v in enumerate(VALUES)])
    async with db.write_transaction() as tx:
        for pos, v in enumerate(VALUES):
            await tx.execute("INSERT INTO vals VALUES ('transaction', ?, ?)", (pos, v))
    # A float past the 31 positions a mask names: the shim gets the positions as a list.
    wide = [0] * 33 + [2.0]
    await db.execute("INSERT INTO vals VALUES ('wide', 0, ?34)", wide)
    await db.execute_many("INSERT INTO vals VALUES ('wide', 1, ?34)", [wide])
    out = []
    for path in ("execute", "named", "many", "named_many", "transaction", "wide"):
        rows = await db.get_all(
            "SELECT typeof(v) AS t, v FROM vals WHERE path = ? ORDER BY pos", [path])
        out.append((path, [(r["t"], r["v"]) for r in rows]))
    # One value per query too: alone in its result, no other value's conversion covers it.
    one_by_one = []
    for pos in range(len(VALUES)):
        row = await db.get(
            "SELECT typeof(v) AS t, v FROM vals WHERE path = 'execute' AND pos = ?", [pos])
        one_by_one.append((row["t"], row["v"]))
    out.append(("one by one", one_by_one))
    return out


def check(result: list[tuple[str, list[tuple[str, Any]]]]) -> None:
    """Every path stored each value with its own type and gives the same value back."""
    for path, rows in result:
        if path == "wide":
            assert rows == [("real", 2.0), ("real", 2.0)]
            assert all(type(v) is float for _, v in rows)
            continue
        assert [t for t, _ in rows] == EXPECTED_TYPES, path
        for (_, got), sent in zip(rows, VALUES, strict=True):
            want = int(sent) if type(sent) is bool else sent
            assert got == want and type(got) is type(want), (path, sent, got)
