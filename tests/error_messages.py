"""Every error describes its own statement, once. Checked on every runtime (the browser
test runs this file's source in a tab): a statement that fails after another one failed
gets its own message (sqlite3 reused the previous error's text for a cached statement
given a value it can't bind), and ``str(error)`` does not repeat the class name."""

from typing import Any


async def messages(db: Any) -> list[tuple[str, str]]:
    """Run failing statements one after another; return (error type, message) of each."""
    import tabsqlite

    out: list[tuple[str, str]] = []
    await db.execute("SELECT ?", [1])  # prepared and cached
    for sql, params in [
        ("SELEC 1", []),
        ("SELECT ?", [object()]),
        ("SELEC 1", []),
        ("SELECT :a", {"a": object()}),
        ("SELEC 1", []),
        ("SELECT ?", [2**70]),
        ("SELEC 1", []),
        ("SELECT ?", [1, 2]),
        ("SELECT * FROM no_such_table_here", []),
        ("SELECT ?", [object()]),
    ]:
        try:
            await db.execute(sql, params)
        except tabsqlite.DatabaseError as error:
            out.append((type(error).__name__, str(error)))
        else:
            out.append(("no error", sql))
    assert (await db.get("SELECT ? AS v", [5]))["v"] == 5  # still usable
    return out


def check(out: list[tuple[str, str]]) -> None:
    syntax = ("SQLiteError", 'near "SELEC": syntax error [SQLITE_ERROR]')
    assert out[0] == syntax, out
    assert out[1][0] == "BadCallError" and "object" in out[1][1], out
    assert out[3][0] == "BadCallError" and "object" in out[3][1], out
    assert out[5][0] == "BadCallError" and "too large" in out[5][1], out
    assert out[7][0] == "BadCallError" and "bindings" in out[7][1], out
    assert out[8][0] == "SQLiteError" and "no_such_table_here" in out[8][1], out
    assert out[9][0] == "BadCallError" and "object" in out[9][1], out
    for kind, message in out:
        assert "SELEC" not in message or kind == "SQLiteError", out
        assert "no_such_table_here" not in message or kind == "SQLiteError", out
        assert not message.startswith(kind), out
