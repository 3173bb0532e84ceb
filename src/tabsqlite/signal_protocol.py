"""The wire format of cross-connection change messages and the receiver's bookkeeping.

A message is a JSON object ``{"tabsqlite": 1, "origin": str, "seq": int, "tables": [str]}``.
Each sender numbers its messages 1, 2, 3, ...; a receiver that sees a gap, a message it can't
read, or one of another protocol version reports "unknown tables changed" rather than guess.
Duplicates (a sequence number already seen) are ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

__all__ = ["PROTOCOL_VERSION", "Decoded", "Receiver", "encode_message"]

PROTOCOL_VERSION = 1
_MAX_TABLES = 1000


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


class Receiver:
    """Turns received messages into changes, tracking each sender's sequence."""

    def __init__(self, own_origin: str) -> None:
        self.own_origin = own_origin
        self._last_seq: dict[str, int] = {}
        self.unreadable = 0
        self.gaps = 0
        self.duplicates = 0

    def receive(self, raw: object) -> Decoded | None:
        """Interpret ``raw``; ``None`` means nothing to report (own echo or duplicate)."""
        try:
            data = json.loads(raw) if isinstance(raw, str | bytes) else raw
            if not isinstance(data, dict) or data.get("tabsqlite") != PROTOCOL_VERSION:
                raise ValueError("not a tabsqlite v1 message")
            origin = data["origin"]
            seq = data["seq"]
            tables = data["tables"]
            if (
                not isinstance(origin, str)
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
            return Decoded(frozenset(), unknown=True)
        if origin == self.own_origin:
            return None
        last = self._last_seq.get(origin)
        if last is not None and seq <= last:
            self.duplicates += 1
            return None
        self._last_seq[origin] = seq
        names = frozenset(t.lower() for t in tables)
        if last is not None and seq != last + 1:
            self.gaps += 1
            return Decoded(names, unknown=True)
        return Decoded(names, unknown=False)
