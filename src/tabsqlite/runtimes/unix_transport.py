"""Change messages between OS processes: Unix datagram sockets in a per-database folder.

Each receiver binds a socket in ``<tmp>/tabsqlite-<uid>/<channel id>/``; a sender writes one
datagram to every other socket there. Nothing polls: the event loop wakes when a datagram
arrives. A socket nobody listens on any more (its process died) is removed by the next
sender. A datagram that can't be delivered at once is dropped; receivers notice the gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import tempfile
from collections.abc import Callable

from ..holds import scope_id
from ..runtime import Transport

__all__ = ["UnixDatagramTransport", "channel_directory"]

_MAX_DATAGRAM = 65536
_SUN_PATH_MAX = 100


def channel_directory(channel: str) -> str:
    """The folder holding the receivers' sockets of ``channel``."""
    base = os.environ.get("TABSQLITE_SOCKET_DIR") or tempfile.gettempdir()
    if len(base) > 40:
        base = "/tmp"
    return os.path.join(base, f"tabsqlite-{os.getuid()}", scope_id(channel))


class UnixDatagramTransport(Transport):
    """A :class:`Transport` over ``AF_UNIX`` datagram sockets."""

    def __init__(self, channel: str, deliver: Callable[[str], None]) -> None:
        self.directory = channel_directory(channel)
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        self.path = os.path.join(self.directory, f"{os.getpid()}-{secrets.token_hex(6)}.sock")
        if len(self.path) > _SUN_PATH_MAX:
            raise OSError(f"socket path too long: {self.path}")
        self._deliver = deliver
        self._loop = asyncio.get_running_loop()
        self._recv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._recv.setblocking(False)
        with contextlib.suppress(OSError):
            self._recv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self._recv.bind(self.path)
        self._send = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._send.setblocking(False)
        self._loop.add_reader(self._recv.fileno(), self._on_readable)
        self._closed = False
        self.sent = 0
        self.dropped = 0

    def _on_readable(self) -> None:
        while True:
            try:
                data = self._recv.recv(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            self._deliver(data.decode("utf-8", "replace"))

    async def send(self, message: str) -> None:
        if self._closed:
            return
        data = message.encode("utf-8")
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return
        own = os.path.basename(self.path)
        for name in names:
            if name == own or not name.endswith(".sock"):
                continue
            target = os.path.join(self.directory, name)
            try:
                self._send.sendto(data, target)
                self.sent += 1
            except (ConnectionRefusedError, FileNotFoundError):
                with contextlib.suppress(OSError):
                    os.unlink(target)  # its receiver is gone
            except OSError:
                self.dropped += 1  # full or otherwise unreachable: receivers see the gap

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._loop.remove_reader(self._recv.fileno())
        self._recv.close()
        self._send.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
