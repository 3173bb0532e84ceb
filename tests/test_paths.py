from __future__ import annotations

import os
from pathlib import Path

import pytest

import tabsqlite
from tabsqlite.paths import resolve_path


@pytest.mark.parametrize(
    "bad",
    ["", "   ", "..", "../x.db", "a/../b.db", "/a/../b.db", "a//b.db", "dir/", "/", "./x.db",
     "x\x00.db", "a\\b.db", "x\n.db", "a" * 300, "/" + "d/" * 600 + "x.db", "\ud800.db"],
)
def test_bad_paths_are_rejected(bad: str) -> None:
    with pytest.raises(tabsqlite.InvalidPathError):
        resolve_path(bad, "/data")


def test_plain_names_go_to_default_directory() -> None:
    assert resolve_path("app.db", "/data") == "/data/app.db"
    assert resolve_path("sub/app.db", "/data") == "/data/sub/app.db"
    assert resolve_path("/abs/app.db", "/data") == "/abs/app.db"
    assert resolve_path(":memory:", "/data") == ":memory:"


async def test_plain_name_opens_in_default_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TABSQLITE_DATA_DIR", str(tmp_path / "data"))
    db = await tabsqlite.open_database("plain.db")
    try:
        assert db.path == str(tmp_path / "data" / "plain.db")
        await db.execute("CREATE TABLE t(x)")
    finally:
        await db.close()
    assert (tmp_path / "data" / "plain.db").exists()


async def test_absolute_path_creates_directories_persists_and_deletes(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "deep" / "app.db"
    db = await tabsqlite.open_database(str(path))
    await db.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, x)")
    await db.execute("INSERT INTO t(x) VALUES (42)")
    await db.triggers.create_diff_trigger(source="t", destination="d", when={"INSERT": None})
    await db.close()
    assert path.exists()

    db = await tabsqlite.open_database(str(path))
    assert await db.get("SELECT x FROM t") == {"x": 42}
    await db.close(delete_database=True)
    leftovers = [p for p in os.listdir(path.parent) if p.startswith("app.db")]
    assert leftovers == []


async def test_symlinked_directory_gives_one_canonical_path(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "link")
    a = await tabsqlite.open_database(str(tmp_path / "real" / "x.db"))
    b = await tabsqlite.open_database(str(tmp_path / "link" / "x.db"))
    try:
        assert a.path == b.path
    finally:
        await a.close()
        await b.close()


async def test_bad_path_gives_typed_error_at_open() -> None:
    with pytest.raises(tabsqlite.InvalidPathError):
        await tabsqlite.open_database("../escape.db")
    with pytest.raises(tabsqlite.InvalidPathError):
        await tabsqlite.open_database("")


async def test_runtime_page_size_applies_to_new_files_only(tmp_path: Path) -> None:
    from tabsqlite.runtime import ConnectOptions
    from tabsqlite.runtimes.cpython import CPythonRuntime

    old = tmp_path / "old.db"
    db = await tabsqlite.open_database(str(old))  # SQLite's default page size
    await db.execute("CREATE TABLE t(x)")
    await db.execute("INSERT INTO t VALUES (1)")
    default = (await db.get("PRAGMA page_size"))["page_size"]
    await db.close()

    runtime = CPythonRuntime()
    size = 8192 if default != 8192 else 16384
    runtime.options = ConnectOptions(page_size=size)
    new = await tabsqlite.open_database(str(tmp_path / "new.db"), runtime=runtime)
    await new.execute("CREATE TABLE t(x)")
    assert (await new.get("PRAGMA page_size"))["page_size"] == size
    await new.close()

    again = await tabsqlite.open_database(str(old), runtime=runtime)
    assert (await again.get("PRAGMA page_size"))["page_size"] == default
    assert await again.get("SELECT x FROM t") == {"x": 1}
    await again.close()
