"""README.md's code in a real tab: its Python blocks in both modes (the same blocks
tests/test_readme.py runs on CPython), and its JS block as a page's module script."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from readme_blocks import blocks, runnable

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.mark.parametrize("mode", ["worker", "main"])
async def test_python_blocks_run_in_a_tab(open_tabs: Any, mode: str) -> None:
    (tab,) = await open_tabs(1, mode=mode)
    for block in runnable("python"):
        await tab.run(block.code, timeout=60)
    assert await tab.run("db.closed") is True
    left = await tab.run("""
        from pyodide.code import run_js
        await run_js('''(async () => {
            const dir = await (await navigator.storage.getDirectory())
                .getDirectoryHandle("tabsqlite", {create: true});
            const names = [];
            for await (const name of dir.keys()) names.push(name);
            return names.filter((n) => n.startsWith("todo.db")).length;
        })()''')
    """)
    assert left == 0  # the last block deleted the database and its journal


async def test_js_block_boots_a_tab_and_runs_python(context: BrowserContext,
                                                    server_url: str) -> None:
    (block,) = blocks("js")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    logs: list[str] = []
    page.on("console", lambda m: logs.append(m.text))
    await page.goto(f"{server_url}/?mode=worker")
    await page.evaluate("window.tabReady")
    await page.add_script_tag(content=block.code + "\nwindow.readmeCount = count;\n",
                              type="module")
    await page.wait_for_function("window.readmeCount !== undefined", timeout=90_000)
    first = await page.evaluate("window.readmeCount")
    assert not errors, errors
    assert first >= 1
    assert any("visited" in line for line in logs), logs
    await page.close()
