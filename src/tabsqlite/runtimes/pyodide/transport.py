"""Change messages between tabs: a BroadcastChannel."""

from __future__ import annotations

from typing import Any

from ...runtime import Deliver, Transport
from .glue import Glue, _ffi


class BroadcastTransport(Transport):
    """Change messages over a BroadcastChannel (which never echoes to its sender)."""

    def __init__(self, glue: Glue, channel: str, deliver: Deliver) -> None:
        ffi = _ffi()

        def on_message(batch: Any) -> None:
            messages = batch.to_py()  # strings, several per call (see openChannel)
            deliver([m if isinstance(m, str) else "\x00unreadable" for m in messages])

        self._proxy = ffi.create_proxy(on_message)
        self._channel = glue.openChannel(channel, self._proxy)
        self._closed = False

    async def send(self, message: str) -> None:
        if not self._closed:
            self._channel.post(message)

    def set_listening(self, listening: bool) -> int:
        return 0 if self._closed else int(self._channel.setListening(listening))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._channel.close()
        self._proxy.destroy()
