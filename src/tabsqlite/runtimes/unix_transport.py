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
import stat
import tempfile

from ..errors import TransportError
from ..names import signal_folder
from ..runtime import Deliver, Transport

__all__ = ["UnixDatagramTransport", "channel_directory"]

_MAX_DATAGRAM = 65536
_SUN_PATH_MAX = 100
_READS_PER_WAKE = 1024


def channel_directory(channel: str) -> str:
    """The folder holding the receivers' sockets of ``channel``."""
    base = os.environ.get("TABSQLITE_SOCKET_DIR") or tempfile.gettempdir()
    if len(base) > 40:
        base = "/tmp"
    return signal_folder(base, os.getuid(), channel)[1]


def _private_directory(path: str) -> None:
    """Create ``path`` (mode 0700) or check it: a real directory (not a link), owned by
    this user, that nobody else can enter. Else :class:`TransportError`: another user could
    read the change messages or plant sockets there."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as error:
        raise TransportError(f"cannot create the signal folder {path}: {error}") from error
    try:
        info = os.lstat(path)
    except OSError as error:
        raise TransportError(f"cannot use the signal folder {path}: {error}") from error
    if not stat.S_ISDIR(info.st_mode):
        raise TransportError(f"the signal folder {path} is not a directory (or is a link)")
    if info.st_uid != os.getuid():
        raise TransportError(
            f"the signal folder {path} belongs to user {info.st_uid}, not to this user "
            f"({os.getuid()}); remove it or set TABSQLITE_SOCKET_DIR"
        )
    if info.st_mode & 0o077:
        os.chmod(path, 0o700)  # ours, made by an older version or a loose umask


def _make_channel_directory(directory: str) -> None:
    """Create the per-user folder and the channel's folder, both private."""
    user_dir = os.path.dirname(directory)
    if not os.path.isdir(os.path.dirname(user_dir)):
        raise TransportError(f"the temporary folder {os.path.dirname(user_dir)} is missing")
    _private_directory(user_dir)
    _private_directory(directory)


class UnixDatagramTransport(Transport):
    """A :class:`Transport` over ``AF_UNIX`` datagram sockets."""

    def __init__(self, channel: str, deliver: Deliver) -> None:
        self.directory = channel_directory(channel)
        _make_channel_directory(self.directory)
        self.path = os.path.join(self.directory, f"{os.getpid()}-{secrets.token_hex(6)}.sock")
        if len(self.path) > _SUN_PATH_MAX:
            raise TransportError(f"socket path too long: {self.path}")
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
        batch: list[str] = []
        for _ in range(_READS_PER_WAKE):  # the rest of a flood waits for the next turn
            try:
                data = self._recv.recv(_MAX_DATAGRAM)
            except OSError:  # BlockingIOError included: nothing more for now
                break
            batch.append(data.decode("utf-8", "replace"))
        if batch:
            self._deliver(batch)

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
