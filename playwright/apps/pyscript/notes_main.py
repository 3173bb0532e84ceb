# A PyScript page: tabsqlite on the main thread (it starts its own database worker).
import asyncio

from pyodide.ffi import create_proxy
from pyscript import document, window

import tabsqlite

db = await tabsqlite.open_database("pyscript_notes.db")
await db.execute("CREATE TABLE IF NOT EXISTS notes(id INTEGER PRIMARY KEY, body TEXT)")


async def add_note(body):
    await db.execute("INSERT INTO notes(body) VALUES (?)", [body])


async def show_count():
    async for rows in db.watch("SELECT count(*) AS n FROM notes"):
        document.querySelector("#count").textContent = str(rows[0]["n"])


showing = asyncio.ensure_future(show_count())
window.addNote = create_proxy(add_note)
