"""The wire format of cross-connection change messages and the receiver's bookkeeping.

A message is a JSON object ``{"tabsqlite": 1, "origin": str, "seq": int, "tables": [str]}``.
Each sender numbers its messages 1, 2, 3, ...; a receiver that sees a gap, a message it can't
read, or one of another protocol version reports "unknown tables changed" rather than guess.
Duplicates (a sequence number seen lately) are ignored; no number, however large, makes a
sender's later messages look like duplicates (see :class:`Receiver`).
"""

from __future__ import annotations

import json
from collections import OrderedDict, deque
from dataclasses import dataclass

__all__ = ["PROTOCOL_VERSION", "Decoded", "Receiver", "encode_message"]

PROTOCOL_VERSION = 1
_MAX_TABLES = 1000
_MAX_ORIGIN = 64  # characters of a sender's id
_MAX_ORIGINS = 256  # senders remembered (least recently heard forgotten first)
_WINDOW = 64  # recent sequence numbers remembered per sender (duplicates, late messages)
_PREFIX = '{"tabsqlite"'  # how every message encode_message writes begins


def encode_message(origin: str, seq: int, tables: frozenset[str]) -> str:
    """The message announcing that ``origin``'s commit number ``seq`` changed ``tables``."""
    return json.dumps(
        {"tabsqlite": PROTOCOL_VERSION, "origin": origin, "seq": seq, "tables": sorted(tables)},
        separators=(",", ":"),
    )


@dataclass(frozen=True, slots=True)
class Decoded:
    """What a received message means: ``tables`` changed, or ``unknown`` (``None``: ignore)."""

    tables: frozenset[str]
    unknown: bool


_UNKNOWN = Decoded(frozenset(), unknown=True)


class Receiver:
    """Turns received messages into changes, tracking each sender's sequence.

    Sequence numbers come from anyone who can post on the channel, so none of them can
    silence a sender: a number far below the sender's last (the sender restarted, or a
    forged message had claimed a huge one) starts the sequence again and is reported with
    "unknown tables", never dropped. Only a number seen lately from the same sender is a
    duplicate. Senders and their recent numbers are bounded in memory.
    """

    def __init__(self, own_origin: str) -> None:
        self.own_origin = own_origin
        self._last_seq: OrderedDict[str, int] = OrderedDict()
        self._recent: dict[str, deque[int]] = {}
        self.unreadable = 0
        self.gaps = 0
        self.duplicates = 0
        self.resets = 0

    def receive(self, raw: object) -> Decoded | None:
        """Interpret ``raw``; ``None`` means nothing to report (own echo or duplicate)."""
        if isinstance(raw, str) and not raw.startswith(_PREFIX):  # garbage: no JSON parse
            self.unreadable += 1
            return _UNKNOWN
        try:
            data = json.loads(raw) if isinstance(raw, str | bytes) else raw
            if not isinstance(data, dict) or data.get("tabsqlite") != PROTOCOL_VERSION:
                raise ValueError("not a tabsqlite v1 message")
            origin = data["origin"]
            seq = data["seq"]
            tables = data["tables"]
            if (
                not isinstance(origin, str)
                or len(origin) > _MAX_ORIGIN
                or not isinstance(seq, int)
                or isinstance(seq, bool)
                or seq < 1
                or not isinstance(tables, list)
                or len(tables) > _MAX_TABLES
                or not all(isinstance(t, str) for t in tables)
            ):
                raise ValueError("malformed tabsqlite message")
        except (ValueError, KeyError, TypeError, RecursionError):
            self.unreadable += 1
            return _UNKNOWN
        if origin == self.own_origin:
            return None
        names = frozenset(t.lower() for t in tables)
        last = self._last_seq.get(origin)
        if last is None:
            self._track(origin, seq)
            return Decoded(names, unknown=False)
        recent = self._recent[origin]
        if seq <= last:
            if seq in recent:
                self.duplicates += 1
                return None
            if last - seq <= _WINDOW:  # late (reordered): its gap was reported as unknown
                recent.append(seq)
                self.duplicates += 1
                return None
            self.resets += 1  # restarted, or `last` was forged: start again from here
            self._track(origin, seq)
            return Decoded(names, unknown=True)
        self._track(origin, seq)
        if seq != last + 1:
            self.gaps += 1
            return Decoded(names, unknown=True)
        return Decoded(names, unknown=False)

    def forget_senders(self) -> None:
        """Start every sender's sequence afresh: messages went by unread (nobody was
        listening), so the next number from a sender is no gap."""
        self._last_seq.clear()
        self._recent.clear()

    def _track(self, origin: str, seq: int) -> None:
        if origin not in self._last_seq:
            if len(self._last_seq) >= _MAX_ORIGINS:
                old, _ = self._last_seq.popitem(last=False)
                self._recent.pop(old, None)
            self._recent[origin] = deque(maxlen=_WINDOW)
        self._last_seq[origin] = seq
        self._last_seq.move_to_end(origin)
        self._recent[origin].append(seq)
