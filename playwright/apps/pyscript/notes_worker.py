# A PyScript worker: tabsqlite runs sqlite-wasm right here, Python calls it directly.
from pyscript import sync

import tabsqlite

db = await tabsqlite.open_database("pyscript_notes.db")
await db.execute("CREATE TABLE IF NOT EXISTS notes(id INTEGER PRIMARY KEY, body TEXT)")


async def add_note(body):
    await db.execute("INSERT INTO notes(body) VALUES (?)", [body])


async def count():
    return (await db.get("SELECT count(*) AS n FROM notes"))["n"]


def ready():
    return True


sync.add_note = add_note
sync.count = count
sync.ready = ready
