"""tabsqlite in JupyterLite (``jupyterlite-core`` and ``jupyterlite-pyodide-kernel`` from
PyPI, the site built offline here, the kernel's Pyodide pointed at the locally served one):
two notebooks in two tabs; one writes, the other's ``watch`` sees it. The notebooks install
tabsqlite as a JupyterLite user does, ``%pip install tabsqlite``, from the site's own index
(``jupyter lite build --piplite-wheels``)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page
from static_host import StaticHost, static_host

pytestmark = pytest.mark.asyncio(loop_scope="session")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from readme_blocks import blocks  # noqa: E402

APP = HERE / "apps" / "jupyterlite"
KERNEL_WHEELS = HERE.parent / "dist" / "vendor" / "pyodide"
START_TIMEOUT_MS = 90_000


async def test_the_readmes_recipe_builds_as_this_test_does() -> None:
    (recipe,) = [b for b in blocks("sh") if b.info == "recipe"]
    build = [line for line in recipe.code.splitlines() if line.startswith("jupyter lite build")]
    assert len(build) == 1 and "--piplite-wheels" in build[0] and "--contents" in build[0]
    installs = [line for line in recipe.code.splitlines() if line.startswith("pip install")]
    assert installs and all(name in installs[0] for name in ("jupyterlite-core",
                                                               "jupyterlite-pyodide-kernel",
                                                               "jupyter_server"))


def _pinned() -> list[str]:
    lines = (APP / "pyodide-packages.txt").read_text().splitlines()
    return [line.split("==")[0] for line in lines if line and not line.startswith("#")]


@pytest.fixture(scope="module")
def host(wheels: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    found = sorted(KERNEL_WHEELS.glob("*.whl"))
    if len(found) < len(_pinned()):
        raise RuntimeError(f"{KERNEL_WHEELS} lacks the kernel's wheels: run scripts/setup.sh")
    in_lock = [w for w in found if not w.name.startswith("comm-")]
    (comm,) = [w for w in found if w.name.startswith("comm-")]
    (tabsqlite_wheel,) = sorted(wheels.glob("tabsqlite-*.whl"))[-1:]
    built = tmp_path_factory.mktemp("lite")
    lite_dir = built / "lite_dir"
    lite_dir.mkdir()
    (lite_dir / "jupyter-lite.json").write_text((APP / "jupyter-lite.json").read_text())
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "jupyterlite_core", "build", "--lite-dir", str(lite_dir),
         "--contents", str(APP / "notebooks"), "--piplite-wheels", str(tabsqlite_wheel),
         "--piplite-wheels", str(comm), "--output-dir", str(built / "site")],
        capture_output=True, text=True, timeout=600, cwd=built)
    if done.returncode != 0:
        raise RuntimeError(f"jupyter lite build failed:\n{done.stdout[-3000:]}\n"
                           f"{done.stderr[-3000:]}")
    print(f"jupyter lite build: {time.perf_counter() - started:.1f} s")
    site = tmp_path_factory.mktemp("site") / "app"
    empty = tmp_path_factory.mktemp("empty")
    with static_host(site, empty, wheels, extra={"lite": built / "site"},
                     pyodide_wheels=in_lock) as served:
        yield served


@pytest.fixture
def open_notebook(logged_pages: Callable[[str, str], Awaitable[Page]],
                  host: StaticHost) -> Callable[[str], Awaitable[Page]]:
    async def opener(name: str) -> Page:
        page = await logged_pages(f"{host.url}/lite/notebooks/index.html?path={name}.ipynb",
                                  name)
        await page.wait_for_function("window.jupyterapp !== undefined",
                                     timeout=START_TIMEOUT_MS)
        return page

    return opener


KERNEL_STATUS = """() => {
  const dialog = document.querySelector(".jp-Dialog .jp-mod-accept");
  if (dialog) dialog.click();  // "Select Kernel": take the preferred one (Python (Pyodide))
  const widget = window.jupyterapp.shell.currentWidget;
  return widget && widget.sessionContext && widget.sessionContext.session &&
    widget.sessionContext.session.kernel && widget.sessionContext.session.kernel.status;
}"""


async def _run_all(page: Page) -> None:
    await page.wait_for_function(f"({KERNEL_STATUS})() === 'idle'", timeout=START_TIMEOUT_MS,
                                 polling=250)
    # (not awaited: the watcher's last cell runs until it has seen the writes)
    await page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")


OUTPUTS = "[...document.querySelectorAll('.jp-OutputArea-output')].map((e) => e.innerText)"


async def _shows(page: Page, text: str) -> None:
    try:
        await page.wait_for_function(f"(text) => {OUTPUTS}.some((t) => t.includes(text))",
                                     arg=text, timeout=START_TIMEOUT_MS)
    except Exception as error:  # say what the notebook shows instead
        shown = await page.evaluate(f"() => {OUTPUTS}")
        print(await page.evaluate("() => document.body.innerText.slice(0, 3000)"))
        raise AssertionError(f"no output {text!r}; the outputs: {shown}") from error


async def test_two_notebooks_one_writes_the_others_watch_sees_it(
        open_notebook: Callable[[str], Awaitable[Page]]) -> None:
    started = time.perf_counter()
    watcher = await open_notebook("watcher")
    await _run_all(watcher)
    await _shows(watcher, "count 0")
    watcher_ready = time.perf_counter() - started

    started = time.perf_counter()
    writer = await open_notebook("writer")
    await _run_all(writer)
    await _shows(writer, "written 3")
    writer_done = time.perf_counter() - started
    await _shows(watcher, "count 3")
    print(f"JupyterLite: watcher notebook open and watching {watcher_ready:.1f} s, "
          f"writer notebook done {writer_done:.1f} s")
