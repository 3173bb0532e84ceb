"""Who holds a database file's write lock: the processes with a POSIX write lock on the
file or its ``-shm`` (SQLite's locks), read from ``/proc/locks`` (Linux; elsewhere nobody
is named). Only called when a statement gave up waiting, never on the hot path."""

from __future__ import annotations

import contextlib
import os

__all__ = ["lock_holders"]

_SUFFIXES = ("", "-shm", "-wal", "-journal")


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            parts = f.read().split(b"\0")
    except OSError:
        return "?"
    words = [os.path.basename(p.decode(errors="replace")) for p in parts[:3] if p]
    return " ".join(words) or "?"


def lock_holders(path: str) -> list[tuple[int, str]]:
    """The (pid, command) of other processes holding a write lock on ``path``'s files."""
    files: set[tuple[int, int, int]] = set()
    for suffix in _SUFFIXES:
        with contextlib.suppress(OSError):
            st = os.stat(path + suffix)
            files.add((os.major(st.st_dev), os.minor(st.st_dev), st.st_ino))
    if not files:
        return []
    try:
        with open("/proc/locks") as f:
            lines = f.readlines()
    except OSError:
        return []
    own = os.getpid()
    pids: list[int] = []
    for line in lines:
        parts = line.split()
        # "1: POSIX  ADVISORY  WRITE 1234 08:01:5678 120 120" ("->" marks a waiter)
        if len(parts) < 6 or parts[1] == "->" or parts[1] != "POSIX" or parts[3] != "WRITE":
            continue
        try:
            pid = int(parts[4])
            major, minor, inode = parts[5].split(":")
            key = (int(major, 16), int(minor, 16), int(inode))
        except ValueError:
            continue
        if key in files and pid != own and pid not in pids:
            pids.append(pid)
    return [(pid, _command(pid)) for pid in pids]
