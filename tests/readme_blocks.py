"""The code blocks of README.md, for the tests that run them (CPython and a browser tab)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)


@dataclass(frozen=True)
class Block:
    language: str
    code: str
    line: int  # where the block starts in README.md, for failure messages


def blocks(language: str | None = None) -> list[Block]:
    """The fenced blocks of README.md (of ``language`` only, if given), in order."""
    text = README.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        lang = match.group(1)
        if language is None or lang == language:
            line = text.count("\n", 0, match.start()) + 1
            found.append(Block(lang, match.group(2), line))
    return found
