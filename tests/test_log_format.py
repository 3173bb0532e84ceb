"""The browser VFS's write-ahead log format (``js_glue/src/writeahead.mjs``), run under Node
by ``tests/log_format_check.mjs`` with its files in memory: a page size change voids what
was logged before for every view, a torn change is never read, and a checkpoint writes
the file in the new size. The same log on real OPFS, in real tabs:
``playwright/test_tab_write_ahead.py``."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def seen() -> Any:
    node = shutil.which("node")
    assert node is not None, "node is needed (scripts/setup.sh installs it)"
    out = subprocess.run([node, str(HERE / "log_format_check.mjs")], capture_output=True,
                         text=True, timeout=60, check=True)
    return json.loads(out.stdout)


def test_a_page_size_change_voids_the_pages_logged_before(seen: Any) -> None:
    whole = seen["whole"]
    assert whole["before"] == {"pageSize": 4096, "dbPages": 3, "frames": 3,
                               "pages": [1, 2, 3, None]}
    # Every page of the new size is logged (the one not written as zeros); the third
    # 4096-byte page is gone with the rest of the old ones.
    want = {"pageSize": 8192, "dbPages": 2, "frames": 5, "pages": [7, 0, None]}
    assert whole["after"] == {"writer": want, "reader": want}
    assert whole["logBytes"] == 2 * (24 + 8192) + 24


@pytest.mark.parametrize("torn", ["tornInPages", "tornBeforeCommit"])
def test_a_torn_page_size_change_is_never_read(seen: Any, torn: str) -> None:
    case = seen[torn]
    assert case["after"]["reader"] == {"pageSize": 4096, "dbPages": 3, "frames": 3,
                                       "pages": [1, 2, 3]}


def test_a_checkpoint_writes_the_file_in_the_new_size(seen: Any) -> None:
    done = seen["checkpointed"]
    assert done["dbFile"] == [5, 6, 7, 8] and done["dbBytes"] == 4 * 512
    assert done["logBytes"] == seen["header"]
    assert done["fresh"] == {"pageSize": 512, "frames": 0, "dbPages": None}


def test_a_change_of_page_size_must_carry_the_whole_database(seen: Any) -> None:
    assert "not the whole database" in seen["refusals"]["partResize"]
