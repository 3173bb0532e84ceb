"""The change feed of one connection: :class:`ChangeFeed`.

It publishes this connection's commits to its own subscribers and, over the runtime's
transport, to the other connections on the file; it turns their messages into events; and
its back-stop reads ``PRAGMA data_version`` to catch commits whose message was lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Protocol

from .background import Background
from .changes import ChangeEvent, ChangeHub, Subscription
from .names import with_storage_views
from .runtime import Deliver, Transport
from .signal_protocol import Receiver, encode_message

__all__ = ["ChangeFeed", "VersionSource"]

log = logging.getLogger("tabsqlite")
_KICK_SPACING = 0.25  # a pause in messages that ends a burst (see the back-stop)
_BURST = 256  # messages parsed per batch; past that a flood is "unknown"


class VersionSource(Protocol):
    """Where the back-stop reads the file's version (the runner)."""

    async def data_version(self) -> int | None:
        """``PRAGMA data_version`` (``None`` once the database is closing)."""

    def busy(self) -> bool:
        """True while statements are running."""


OpenTransport = Callable[[Deliver], Awaitable[Transport]]


class ChangeFeed:
    """Committed changes, this connection's and the others', as a stream of events.

    :param origin: this connection's id in change messages.
    :param versions: where the back-stop reads ``PRAGMA data_version``.
    :param background: where the feed's tasks run.
    :param signal_check_interval: seconds between back-stop checks (0: no back-stop).
    """

    def __init__(
        self,
        origin: str,
        versions: VersionSource,
        background: Background,
        signal_check_interval: float,
    ) -> None:
        self.origin = origin
        self.hub = ChangeHub()
        #: Decodes and checks the other connections' messages (its counters: diagnostics).
        self.receiver = Receiver(origin)
        #: The channel to the other connections (``None`` for a private database).
        self.transport: Transport | None = None
        self._versions = versions
        self._background = background
        self._interval = signal_check_interval
        self._seq = 0
        self._closing = False
        self._data_version_seen = 0
        self._heard = 0  # readable, in-sequence change messages from other connections
        self._heard_any = 0  # every message that arrived, garbage included
        self._last_message: str | None = None
        self._resend: asyncio.TimerHandle | None = None
        self._kick = asyncio.Event()
        #: True while the transport only counts the others' messages (no subscription
        #: here to hand them to): see :meth:`on_messages` and :meth:`subscribe`.
        self.quiet = False
        self._listened_again = False  # the back-stop has yet to note the version since

    async def start(self, open_transport: OpenTransport) -> None:
        """Join the channel and start the back-stop.

        :param open_transport: opens the transport, given the function that takes messages.
        """
        self.transport = await open_transport(self.on_messages)
        version = await self._versions.data_version()
        self._data_version_seen = version or 0
        if self._interval > 0:
            self._background.spawn(self._back_stop())

    @property
    def messages_heard(self) -> int:
        """Messages that arrived from other connections, garbage included (diagnostics)."""
        return self._heard_any

    def subscribe(self, tables: Iterable[str] | None) -> Subscription:
        """A subscription to the changes of ``tables`` (``None``: every table).

        :param tables: table names (any case).
        """
        sub = self.hub.subscribe(tables)
        if self.quiet:
            self._listen_again()
        return sub

    def _listen_again(self) -> None:
        """A subscription came while the transport let messages go by: hear them again.
        What went by was about commits before the subscription (which its first read
        sees), so it is no change to report; the senders' sequences start afresh (no false
        gap), and the back-stop notes the file's version without calling it unknown."""
        self.quiet = False
        missed = self.transport.set_listening(True) if self.transport is not None else 0
        if missed:
            self.receiver.forget_senders()
            self._heard_any += missed
            self._heard += 1  # (so the back-stop's read explains the version it finds)
            self._listened_again = True
            self._kick.set()

    async def close(self) -> None:
        """Stop: subscriptions end, the transport closes (call after the background tasks
        are cancelled)."""
        self._closing = True
        if self._resend is not None:
            self._resend.cancel()
        self.hub.close()
        if self.transport is not None:
            await self.transport.close()

    # -- this connection's commits ---------------------------------------------------------
    async def committed(self, tables: frozenset[str]) -> None:
        """Announce a commit of this connection.

        :param tables: the tables the commit changed (lower-case).
        """
        tables = with_storage_views(tables)
        self.hub.publish(ChangeEvent(tables, local=True))
        if self.transport is not None:
            self._seq += 1
            message = encode_message(self.origin, self._seq, tables)
            try:
                await self.transport.send(message)
            except Exception:  # receivers recover from a lost message
                log.warning("tabsqlite: could not announce a change", exc_info=True)
            self._schedule_resend(message)

    def _schedule_resend(self, message: str) -> None:
        """Send the last message again once commits pause: a receiver that got it drops the
        copy as a duplicate; one that lost it (and would see no gap, since nothing follows)
        gets it now. Costs one message per burst of commits."""
        self._last_message = message
        if self._resend is not None:
            self._resend.cancel()
        if self._interval > 0:
            self._resend = asyncio.get_running_loop().call_later(
                self._interval, self._resend_last)

    def _resend_last(self) -> None:
        self._resend = None
        message, transport = self._last_message, self.transport
        if message is not None and transport is not None and not self._closing:
            self._background.spawn(transport.send(message))

    # -- the others' commits -------------------------------------------------------------
    def on_messages(self, batch: Sequence[object]) -> None:
        """Messages from other connections that arrived together. The work is small and
        bounded: past ``_BURST`` messages in one batch nothing more is parsed (the rest
        counts as "unknown tables"), and the batch is published as one merged event, at
        once (no extra turn of the event loop per batch: in Pyodide that turn costs more
        than decoding the messages).

        :param batch: the messages as the transport received them.
        """
        if self._closing or not batch:
            return
        self._heard_any += len(batch)
        self._kick.set()
        incoming: ChangeEvent | None = None
        for raw in batch[:_BURST]:
            decoded = self.receiver.receive(raw)
            if decoded is None:
                continue
            if decoded.unknown:
                event = ChangeEvent(frozenset(), unknown=True, remote=True)
            else:
                self._heard += 1
                event = ChangeEvent(with_storage_views(decoded.tables), remote=True)
            incoming = event if incoming is None else incoming.merge(event)
        if len(batch) > _BURST:
            self.receiver.unreadable += len(batch) - _BURST
            incoming = ChangeEvent(frozenset(), unknown=True, remote=True)
        if incoming is not None:
            self.hub.publish(incoming)
        if not self.hub.has_subscriptions and self.transport is not None:
            # Nothing here waits for changes: stop waking for every commit of the others
            # (in a tab each message costs a wake-up of Python) until a subscription comes.
            self.quiet = True
            self.transport.set_listening(False)

    def _unknown_change(self) -> None:
        self.receiver.gaps += 1
        self.hub.publish(ChangeEvent(frozenset(), unknown=True, remote=True))

    async def _back_stop(self) -> None:
        """Back-stop for lost messages: another connection committed, nobody told us.

        After messages, ``PRAGMA data_version`` is read to note the versions they covered. A
        burst shares one read, taken once messages pause for ``_KICK_SPACING`` s: under
        contention every extra read queues for the database lock behind the writers (and a
        lost message between two that came is a sequence gap, which the receiver reports;
        a lost last one comes again, see ``_schedule_resend``). If the version moved while
        no readable, in-sequence message came (only garbage, duplicates or forged numbers),
        "unknown tables changed" is published. With no message for
        ``signal_check_interval`` s, a changed version is waited on for a short grace and
        then announced as "unknown tables changed".
        """
        loop = asyncio.get_running_loop()
        interval = self._interval
        grace = min(0.25, interval)
        kick = self._kick
        next_kick_read = 0.0
        heard_at_read = self._heard
        while True:
            kicked = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(kick.wait(), interval)
                kicked = True
            if kicked and loop.time() < next_kick_read:
                # Wait for the burst to pause (no wake-up per message), but read at least
                # once per interval while messages never stop.
                give_up = loop.time() + max(interval, _KICK_SPACING)
                while loop.time() < give_up:
                    before = self._heard_any
                    await asyncio.sleep(_KICK_SPACING)
                    if self._heard_any == before:
                        break
            kick.clear()
            if self._listened_again:  # read now, as after a message (its kick may be lost
                self._listened_again = False  # to a timeout that fired with it)
                kicked = True
            if (self._versions.busy() or self.quiet) and not kicked:
                continue  # (quiet: nobody to tell; a subscription kicks it first)
            heard = self._heard
            version = await self._versions.data_version()
            if version is None:
                return
            if kicked:
                next_kick_read = loop.time() + _KICK_SPACING
                changed = version > self._data_version_seen
                self._data_version_seen = max(self._data_version_seen, version)
                if changed and heard == heard_at_read:  # nothing readable explains it
                    self._unknown_change()
                heard_at_read = heard  # (what came during the read counts for the next)
                continue
            heard_at_read = heard
            if version <= self._data_version_seen:
                continue
            await asyncio.sleep(grace)  # its message may be on the way
            self._data_version_seen = max(self._data_version_seen, version)
            if self._heard == heard:
                self._unknown_change()
