"""The signal folder is private and checked; the dev server lists nothing and names no
Python version."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

import tabsqlite
from tabsqlite.devserver import DevServer, StaticServer


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def sockets() -> Any:
    """A short folder for sockets (socket paths are limited to ~100 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="tsq", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def test_signal_folders_are_private(tmp_path: Path, monkeypatch: Any, sockets: Path,
                                          open_db: Any) -> None:
    monkeypatch.setenv("TABSQLITE_SOCKET_DIR", str(sockets))
    user_dir = sockets / f"tabsqlite-{os.getuid()}"
    user_dir.mkdir(mode=0o755)  # as an older version (or a loose umask) left it
    os.chmod(user_dir, 0o755)
    db = await open_db(str(tmp_path / "a.db"))
    assert _mode(user_dir) == 0o700
    (channel,) = list(user_dir.iterdir())
    assert _mode(channel) == 0o700
    assert db.path


async def test_a_signal_folder_that_is_not_ours_is_refused(
    tmp_path: Path, monkeypatch: Any, sockets: Path, open_db: Any
) -> None:
    monkeypatch.setenv("TABSQLITE_SOCKET_DIR", str(sockets))
    # A file where the folder should be.
    (sockets / f"tabsqlite-{os.getuid()}").write_text("not a folder")
    with pytest.raises(tabsqlite.TransportError, match="not a directory"):
        await open_db(str(tmp_path / "a.db"))
    # Another user's folder: the process believes it is someone else.
    real_uid = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: real_uid + 4242)
    with pytest.raises(tabsqlite.TransportError, match="belongs to user"):
        await open_db(str(tmp_path / "b.db"))
    monkeypatch.undo()
    # Nothing stays locked: the database opens once the folder is usable.
    os.unlink(sockets / f"tabsqlite-{os.getuid()}")
    monkeypatch.setenv("TABSQLITE_SOCKET_DIR", str(sockets))
    db = await open_db(str(tmp_path / "a.db"))
    await db.execute("CREATE TABLE t(x)")


def test_dev_server_lists_no_directory_and_names_no_python(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "sub").mkdir(parents=True)
    (site / "sub" / "secret.txt").write_text("x")
    (site / "index.html").write_text("<p>hi</p>")
    server = DevServer(site, tmp_path, tmp_path).start()
    try:
        with urllib.request.urlopen(server.url + "/index.html") as response:
            assert response.status == 200
            server_header = response.headers["Server"]
            assert "Python" not in server_header and "python" not in server_header
            assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(server.url + "/sub/")
        assert caught.value.code == 404
        assert "secret.txt" not in caught.value.read().decode()
    finally:
        server.stop()


def test_dev_server_follows_the_sites_links_but_not_dot_dot(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "pyodide.mjs").write_text("export {};")
    (tmp_path / "secret.txt").write_text("x")
    site = tmp_path / "site"
    site.mkdir()
    (site / "pyodide").symlink_to(outside)  # a folder the site links to: served
    server = StaticServer({"/": site}).start()
    try:
        with urllib.request.urlopen(server.url + "/pyodide/pyodide.mjs") as response:
            assert response.read() == b"export {};"
        for path in ("/../secret.txt", "/pyodide/../../secret.txt", "/%2e%2e/secret.txt"):
            with pytest.raises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(server.url + path)
            assert caught.value.code in (400, 404), path
    finally:
        server.stop()
