"""Every code block of README.md runs: the Python ones here, in order, in one namespace (the
browser tab runs them too: playwright/test_tab_readme.py); the shell ones name the project's
scripts."""

from __future__ import annotations

import ast
import os
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from readme_blocks import README, blocks, runnable


def test_readme_has_the_blocks_it_promises() -> None:
    languages = [b.language for b in blocks()]
    assert languages.count("python") >= 5 and "js" in languages and "sh" in languages
    for block in blocks():
        known = (not block.info or block.file is not None
                 or (block.language, block.info) in {("python", "pyodide"), ("python", "plugin"),
                                                       ("sh", "recipe")})
        assert known, f"README.md:{block.line}: a block no test checks ({block.info!r})"
        if block.language not in ("python", "js", "sh"):
            assert block.file is not None, f"README.md:{block.line}: a block no test checks"


def test_blocks_that_copy_a_file_are_that_file() -> None:
    copies = [b for b in blocks() if b.file is not None]
    assert len(copies) >= 3
    for block in copies:
        path = README.parent / str(block.file)
        assert block.code == path.read_text(encoding="utf-8"), (
            f"README.md:{block.line} differs from {block.file}")


async def test_python_blocks_run_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    monkeypatch.setenv("TABSQLITE_DATA_DIR", str(tmp_path))
    namespace: dict[str, Any] = {"__name__": "readme"}
    for block in runnable("python"):
        code = compile(block.code, f"{README.name}:{block.line}", "exec",
                       flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        result = eval(code, namespace)
        if result is not None:
            await result
    db = namespace["db"]
    assert db.closed
    assert not (tmp_path / "todo.db").exists()  # the last block deletes the database


def test_shell_blocks_run_the_projects_scripts() -> None:
    root = README.parent
    for block in runnable("sh"):
        for line in block.code.splitlines():
            command = shlex.split(line, comments=True)
            if command:
                script = root / command[0]
                assert script.is_file() and os.access(script, os.X_OK), line
