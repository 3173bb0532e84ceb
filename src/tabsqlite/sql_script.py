"""Splitting an SQL script into statements, without running any (pure Python).

A statement ends at a ``;`` outside quotes (``'...'``, ``"..."``, `````...`````,
``[...]``) and comments (``-- ...``, ``/* ... */``). In ``CREATE TRIGGER`` the ``;`` of the
body's statements don't end it: its ``END`` does (a ``CASE ... END`` inside the body is
told apart by counting). A statement of only whitespace and comments is dropped.
"""

from __future__ import annotations

import re

__all__ = ["TRANSACTION_CONTROL", "first_keyword", "manages_transaction", "split_statements"]

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
#: The first words of statements that begin or end a transaction or savepoint.
TRANSACTION_CONTROL = frozenset({"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"})
_LEADING = re.compile(r"^(\s+|--[^\n]*(\n|$)|/\*.*?(\*/|$))+", re.S)
_TEMP = frozenset({"TEMP", "TEMPORARY"})


class _Statement:
    """The words seen so far in one statement (what decides where a trigger ends)."""

    def __init__(self) -> None:
        self.words: list[str] = []
        self.trigger = False
        self.case_depth = 0
        self.last = ""

    def word(self, word: str) -> None:
        upper = word.upper()
        if len(self.words) < 4:
            self.words.append(upper)
            lead = [w for w in self.words if w not in _TEMP]
            self.trigger = lead[:2] == ["CREATE", "TRIGGER"]
        if self.trigger:
            if upper == "CASE":
                self.case_depth += 1
            elif upper == "END" and self.case_depth:
                self.case_depth -= 1
                upper = "END_CASE"
        self.last = upper

    def ends_at_semicolon(self) -> bool:
        return not self.trigger or self.last == "END"


def split_statements(script: str) -> list[str]:
    """The statements of ``script``, each as its own text without the final ``;``.

    :param script: SQL text holding zero or more statements.
    """
    out: list[str] = []
    start = 0
    i = 0
    n = len(script)
    current = _Statement()
    has_code = False
    while i < n:
        ch = script[i]
        if ch in "'\"`[":
            close = "]" if ch == "[" else ch
            j = i + 1
            while j < n:
                if script[j] == close:
                    if close != "]" and j + 1 < n and script[j + 1] == close:
                        j += 2  # a doubled quote inside
                        continue
                    break
                j += 1
            i = j + 1
            has_code = True
            current.last = ""
        elif ch == "-" and script.startswith("--", i):
            j = script.find("\n", i)
            i = n if j < 0 else j + 1
        elif ch == "/" and script.startswith("/*", i):
            j = script.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif ch == ";":
            if current.ends_at_semicolon():
                if has_code:
                    out.append(script[start:i].strip())
                start = i + 1
                current = _Statement()
                has_code = False
            else:
                current.last = ";"
            i += 1
        elif ch.isalpha() or ch == "_":
            match = _WORD.match(script, i)
            assert match is not None
            current.word(match.group())
            has_code = True
            i = match.end()
        else:
            if not ch.isspace():
                has_code = True
                current.last = ""
            i += 1
    if has_code:
        out.append(script[start:].strip())
    return out


def first_keyword(statement: str) -> str:
    """The first word of ``statement`` after whitespace and comments, upper-cased (``""``
    if it does not begin with a word).

    :param statement: one statement.
    """
    leading = _LEADING.match(statement)
    match = _WORD.match(statement, leading.end() if leading else 0)
    return match.group().upper() if match else ""


def manages_transaction(statement: str) -> bool:
    """True if ``statement`` begins or ends a transaction or savepoint itself (``BEGIN``,
    ``COMMIT``, ``END``, ``ROLLBACK``, ``SAVEPOINT``, ``RELEASE``).

    :param statement: one statement, as :func:`split_statements` gives it.
    """
    return first_keyword(statement) in TRANSACTION_CONTROL
