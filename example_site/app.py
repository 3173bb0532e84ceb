"""The demo's Python side: runs in each tab's worker, where tabsqlite runs sqlite-wasm.

Every tab opens the same OPFS database. The page calls ``add``/``rename``/``toggle``/``remove``;
a live ``watch`` sends the list to the page after every commit of any tab, and a diff
tracker sends each recorded change (with the tab that made it) to the activity panel.
"""

import asyncio

import js
from pyodide.ffi import to_js

import tabsqlite

DB_PATH = "/demo/todos.db"
ME = TAB_NAME  # noqa: F821 - set by demo_worker.mjs before this file runs


def post(kind, **data):
    """Send the page a message (this worker's postMessage)."""
    js.postMessage(to_js({"type": kind, **data}, dict_converter=js.Object.fromEntries))


db = await tabsqlite.open_database(DB_PATH)  # noqa: F704 - top-level await (Pyodide)
await db.execute(  # noqa: F704
    "CREATE TABLE IF NOT EXISTS todos(id INTEGER PRIMARY KEY, title TEXT NOT NULL, "
    "done INTEGER NOT NULL DEFAULT 0, tab TEXT NOT NULL, updated_at TEXT NOT NULL)"
)

STAMP = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"


async def add(title):
    title = str(title).strip()[:200]
    if title:
        await db.execute(
            f"INSERT INTO todos(title, tab, updated_at) VALUES (?, ?, {STAMP})", [title, ME]
        )


async def rename(todo_id, title):
    title = str(title).strip()[:200]
    if title:
        await db.execute(
            f"UPDATE todos SET title = ?, tab = ?, updated_at = {STAMP} WHERE id = ?",
            [title, ME, int(todo_id)],
        )


async def toggle(todo_id):
    await db.execute(
        f"UPDATE todos SET done = 1 - done, tab = ?, updated_at = {STAMP} WHERE id = ?",
        [ME, int(todo_id)],
    )


async def remove(todo_id):
    # Stamp the row with this tab first, so the DELETE diff (the OLD row) says who did it.
    async with db.write_transaction() as tx:
        await tx.execute("UPDATE todos SET tab = ? WHERE id = ?", [ME, int(todo_id)])
        await tx.execute("DELETE FROM todos WHERE id = ?", [int(todo_id)])


async def clear_done():
    async with db.write_transaction() as tx:
        await tx.execute("UPDATE todos SET tab = ? WHERE done = 1", [ME])
        await tx.execute("DELETE FROM todos WHERE done = 1")


async def _watch_list():
    async for rows in db.watch("SELECT id, title, done, tab, updated_at FROM todos ORDER BY id"):
        post("rows", rows=rows)


async def _on_diff(ctx):
    post("diff", rows=ctx.diff_rows())


async def _on_change():
    async for event in db.on_change():
        post("change", tables=sorted(event.tables), remote=event.remote, unknown=event.unknown)


tracker = await db.triggers.track_table_diff(  # noqa: F704
    source="todos",
    when={
        "INSERT": None,
        # Only real edits: not the tab stamp that precedes a delete.
        "UPDATE": "NEW.title IS NOT OLD.title OR NEW.done IS NOT OLD.done",
        "DELETE": None,
    },
    columns=["title", "done", "tab"],
    on_change=_on_diff,
)
_tasks = [asyncio.ensure_future(_watch_list()), asyncio.ensure_future(_on_change())]
post("ready", tab=ME, path=db.path)
