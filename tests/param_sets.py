"""The shapes ``execute_many`` takes as parameter sets, and the ones it refuses. Checked on
every runtime (the browser test runs this file's source in a tab): lists, tuples, other
sequences, mappings and a generator of sets work; a str, bytes or non-iterable set is a
``BadCallError`` that inserts nothing, and the database stays usable."""

from typing import Any

INSERT = "INSERT INTO p(a, b) VALUES (?, ?)"


class Pair:
    """A sequence that is neither a list nor a tuple."""

    def __init__(self, a: Any, b: Any) -> None:
        self.items = (a, b)

    def __len__(self) -> int:
        return 2

    def __getitem__(self, i: int) -> Any:
        return self.items[i]


async def shapes(db: Any) -> dict[str, Any]:
    """Run each shape; return the stored rows and the refusals' error types."""
    import tabsqlite

    await db.execute("DROP TABLE IF EXISTS p")
    await db.execute("CREATE TABLE p(id INTEGER PRIMARY KEY, a, b)")
    await db.execute_many(INSERT, [[1, "list"], [2.0, "list"]])
    await db.execute_many(INSERT, [(3, "tuple"), (4.5, b"\x00tuple")])
    await db.execute_many(INSERT, [Pair(5, "sequence")])
    await db.execute_many("INSERT INTO p(a, b) VALUES (:a, :b)", [{"a": 6, "b": "mapping"}])
    await db.execute_many(INSERT, ((i, "generator") for i in (7, 8)))
    refused = []
    for bad in (["ab"], [b"ab"], [7], [[9, "before"], "ab"]):
        try:
            await db.execute_many(INSERT, bad)
            refused.append(None)
        except tabsqlite.BadCallError:
            refused.append("BadCallError")
    rows = await db.get_all("SELECT a, typeof(a) AS ta, b FROM p ORDER BY id")
    return {"rows": rows, "refused": refused}


def check(got: dict[str, Any]) -> None:
    """What :func:`shapes` must have produced."""
    assert got["refused"] == ["BadCallError"] * 4, got["refused"]
    assert [(r["a"], r["ta"], r["b"]) for r in got["rows"]] == [
        (1, "integer", "list"), (2.0, "real", "list"), (3, "integer", "tuple"),
        (4.5, "real", b"\x00tuple"), (5, "integer", "sequence"), (6, "integer", "mapping"),
        (7, "integer", "generator"), (8, "integer", "generator"),
    ], got["rows"]
