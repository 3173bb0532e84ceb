"""The pytest plugin for users' own apps (``tabsqlite.pytest_plugin``), used as a user would:
from a temporary folder holding only a tiny app (its pages, its Pyodide, the wheel), a
``pytest.ini`` and a test file, run by pytest in a process of its own, outside this
repository (none of this suite's fixtures or conftest)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from static_host import pyodide_folder

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from readme_blocks import blocks

HERE = Path(__file__).resolve().parent
APP = HERE / "apps" / "own_pyodide"

#: The README's example, and a test that fails on purpose (the plugin must let it fail).
(EXAMPLE,) = [b for b in blocks("python") if b.info == "plugin"]
FAILS = '''

async def test_that_fails_on_purpose(app_tabs):
    (a,) = await app_tabs(1, "main.html")
    n = await a.run("import tabsqlite\\n(await tabsqlite.open_database('other.db')) and 41")
    assert n == 42, "on purpose"
'''


def test_a_users_own_app_in_several_tabs(wheels: Path, tmp_path: Path) -> None:
    project = tmp_path / "my_project"
    app = project / "app"
    shutil.copytree(APP, app)
    (micropip,) = sorted(wheels.glob("vendor/micropip-*.whl"))[-1:]
    pyodide_folder(app / "pyodide", [micropip])
    (wheel,) = sorted(wheels.glob("tabsqlite-*.whl"))[-1:]
    (app / "wheels").mkdir()
    shutil.copy(wheel, app / "wheels" / wheel.name)
    (app / "wheels" / "index.json").write_text(json.dumps({"tabsqlite": f"wheels/{wheel.name}"}))
    (project / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\ntabsqlite_app = app\n")
    (project / "test_my_app.py").write_text(EXAMPLE.code + FAILS)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                          cwd=project, capture_output=True, text=True, timeout=600)
    out = done.stdout + done.stderr
    assert "1 failed, 1 passed" in out, out[-4000:]
    assert "AssertionError: on purpose" in out
    assert "[tab0]" in out  # the failed test's report has its tab's console
