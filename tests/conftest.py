from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

import tabsqlite
from tabsqlite.runtime import Runtime
from tabsqlite.runtimes.fake import FakeRuntime

HELPER = Path(__file__).with_name("proc_helper.py")


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "app.db")


@pytest.fixture
def runtime() -> Runtime | None:
    """The runtime ``open_db`` uses (``None``: the default, CPython). A test module that
    also runs on the fake runtime overrides it with :func:`both_runtimes`."""
    return None


@pytest.fixture(params=["cpython", "fake"])
def both_runtimes(request: pytest.FixtureRequest) -> Runtime | None:
    """The real runtime, then one FakeRuntime shared by every connection of the test: a
    module runs its tests on both by defining ``runtime`` as this."""
    return FakeRuntime() if request.param == "fake" else None


@pytest.fixture
async def open_db(
    runtime: Runtime | None,
) -> AsyncIterator[Callable[..., Awaitable[tabsqlite.Database]]]:
    """Open databases (on the test's ``runtime``) that are closed at the end of the test."""
    opened: list[tabsqlite.Database] = []

    async def opener(path: str, **kwargs: Any) -> tabsqlite.Database:
        kwargs.setdefault("runtime", runtime)
        db = await tabsqlite.open_database(path, **kwargs)
        opened.append(db)
        return db

    yield opener
    for db in opened:
        await db.close()


class Child:
    """A real OS process running tests/proc_helper.py, talking over its stdout lines."""

    def __init__(self, *args: str) -> None:
        env = dict(os.environ)
        self.proc = subprocess.Popen(
            [sys.executable, str(HELPER), *args],
            stdout=subprocess.PIPE,
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    async def line(self, timeout: float = 20) -> str:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(self.proc.stdout.readline), timeout)
        if not line:
            assert self.proc.stderr is not None
            raise AssertionError(f"child exited: {self.proc.wait(5)}: {self.proc.stderr.read()}")
        return line.strip()

    async def expect(self, word: str, timeout: float = 20) -> str:
        line = await self.line(timeout)
        assert line.startswith(word), line
        return line

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    async def wait(self, timeout: float = 60) -> int:
        return await asyncio.wait_for(asyncio.to_thread(self.proc.wait), timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def child() -> Any:
    children: list[Child] = []

    def start(*args: str) -> Child:
        c = Child(*args)
        children.append(c)
        return c

    yield start
    for c in children:
        c.kill()
