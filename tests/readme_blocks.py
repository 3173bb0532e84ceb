"""The code blocks of README.md, for the tests that run them (CPython and a browser tab)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
_FENCE = re.compile(r"^```(\w*)[ \t]*([^\n]*)\n(.*?)^```", re.S | re.M)


@dataclass(frozen=True)
class Block:
    language: str
    code: str
    line: int  # where the block starts in README.md, for failure messages
    #: what follows the language on the fence line: "" for a block the README's tests run
    #: in order; ``file=PATH`` for a copy of that file (a page the suite runs); ``pyodide``
    #: for Python that needs a Pyodide (playwright/test_any_pyodide.py runs it); ``recipe``
    #: for shell commands of other tools (their tests check them).
    info: str = ""

    @property
    def file(self) -> str | None:
        """The file this block copies (``file=PATH``), if it does."""
        return self.info[len("file="):] if self.info.startswith("file=") else None


def blocks(language: str | None = None) -> list[Block]:
    """The fenced blocks of README.md (of ``language`` only, if given), in order."""
    text = README.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        lang = match.group(1)
        if language is None or lang == language:
            line = text.count("\n", 0, match.start()) + 1
            found.append(Block(lang, match.group(3), line, match.group(2).strip()))
    return found


def runnable(language: str) -> list[Block]:
    """The blocks of ``language`` the README's tests run in order (no info on the fence)."""
    return [b for b in blocks(language) if not b.info]
