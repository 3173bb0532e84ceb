"""Change messages between tabs: a BroadcastChannel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...runtime import Transport
from .glue import Glue, _ffi


class BroadcastTransport(Transport):
    """Change messages over a BroadcastChannel (which never echoes to its sender)."""

    def __init__(self, glue: Glue, channel: str, deliver: Callable[[str], None]) -> None:
        ffi = _ffi()

        def on_message(batch: Any) -> None:
            for data in batch.to_py():  # strings, several per call (see openChannel)
                deliver(data if isinstance(data, str) else "\x00unreadable")

        self._proxy = ffi.create_proxy(on_message)
        self._channel = glue.openChannel(channel, self._proxy)
        self._closed = False

    async def send(self, message: str) -> None:
        if not self._closed:
            self._channel.post(message)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._channel.close()
        self._proxy.destroy()
