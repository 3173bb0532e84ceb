"""Validation and quoting of identifiers that reach DDL."""

from __future__ import annotations

import re

from .errors import BadCallError, InvalidIdentifierError

__all__ = ["check_expression", "quote_identifier", "validate_identifier"]

_MAX_IDENTIFIER = 128


def validate_identifier(name: object, what: str = "identifier") -> str:
    """Return ``name`` if it may be used as a table or column name, else raise.

    Any printable name is allowed (it is always quoted), except the empty name, names with
    control characters, names starting with ``sqlite_`` (reserved by SQLite) and names
    longer than 128 characters.
    """
    if not isinstance(name, str):
        raise InvalidIdentifierError(f"{what} must be a str, not {type(name).__name__}")
    if name == "" or name.strip() == "":
        raise InvalidIdentifierError(f"{what} is empty")
    if len(name) > _MAX_IDENTIFIER:
        raise InvalidIdentifierError(f"{what} {name[:20]!r}... is longer than 128 characters")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        raise InvalidIdentifierError(f"{what} {name!r} contains a control character")
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in name):
        raise InvalidIdentifierError(f"{what} {name!r} contains an unpaired surrogate")
    if name.lower().startswith("sqlite_"):
        raise InvalidIdentifierError(f"{what} {name!r} uses SQLite's reserved prefix 'sqlite_'")
    return name


def quote_identifier(name: str) -> str:
    """Quote a validated identifier for SQL: ``a"b`` becomes ``"a""b"``."""
    return '"' + name.replace('"', '""') + '"'


_TOKEN = re.compile(
    r"""
      '(?:[^']|'')*'        # string literal
    | "(?:[^"]|"")*"        # quoted identifier
    | `(?:[^`]|``)*`        # MySQL-style quoted identifier
    | \[[^\]]*\]            # [bracketed] identifier
    | --[^\n]*              # line comment
    | /\*.*?\*/             # block comment
    | /\*.*                 # unterminated block comment
    | [();]                 # structure
    | [^'"`\[\-/();]+       # anything else
    | [-/]                  # a lone - or /
    """,
    re.VERBOSE | re.DOTALL,
)


def check_expression(expression: object, what: str = "expression") -> str:
    """Check that a user SQL expression (a WHEN filter) stays one expression.

    The expression is embedded in ``WHEN (...)`` of a trigger, so it must not close that
    parenthesis, end the statement, or open an unterminated literal or comment.
    """
    if not isinstance(expression, str):
        raise BadCallError(f"{what} must be a str, not {type(expression).__name__}")
    if expression.strip() == "":
        raise BadCallError(f"{what} is empty")
    if "\x00" in expression:
        raise BadCallError(f"{what} contains a NUL character")
    depth = 0
    pos = 0
    while pos < len(expression):
        match = _TOKEN.match(expression, pos)
        if match is None:
            raise BadCallError(f"{what} {expression!r} has an unterminated literal")
        token = match.group(0)
        if token.startswith("/*") and not token.endswith("*/"):
            raise BadCallError(f"{what} {expression!r} has an unterminated comment")
        if token == "(":
            depth += 1
        elif token == ")":
            depth -= 1
            if depth < 0:
                raise BadCallError(f"{what} {expression!r} has an unbalanced ')'")
        elif token == ";":
            raise BadCallError(f"{what} {expression!r} must not contain ';'")
        pos = match.end()
    if depth != 0:
        raise BadCallError(f"{what} {expression!r} has an unbalanced '('")
    if _TOKEN.findall(expression)[-1].startswith("--"):
        # A trailing line comment would swallow the closing parenthesis we add.
        return expression + "\n"
    return expression
