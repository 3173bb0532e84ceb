"""Database names and paths: validation and resolution, shared by every runtime.

Paths are POSIX-style strings in every runtime (OPFS paths look the same). A *plain name*
(``"app.db"`` or ``"notes/app.db"``) is placed in the runtime's default directory; an
*absolute path* (``"/shared/app.db"``) is used as is. ``":memory:"`` is a private in-memory
database.
"""

from __future__ import annotations

import posixpath

from .errors import InvalidPathError

__all__ = ["MAX_NAME_BYTES", "MAX_PATH_BYTES", "MEMORY", "is_memory", "resolve_path"]

MEMORY = ":memory:"
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 1024
_FORBIDDEN = {"\x00", "\\"}


def is_memory(path: str) -> bool:
    """True for the in-memory database name."""
    return path == MEMORY


def _check_component(component: str, original: str) -> None:
    if component in ("", ".", ".."):
        what = "empty" if component == "" else repr(component)
        raise InvalidPathError(f"database path {original!r} has an {what} component")
    if len(component.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise InvalidPathError(f"database path {original!r} has a component over 255 bytes")
    if any(ord(ch) < 0x20 or ch in _FORBIDDEN for ch in component):
        raise InvalidPathError(f"database path {original!r} contains a control character or '\\'")
    try:
        component.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidPathError(f"database path {original!r} is not valid Unicode") from None


def resolve_path(path: str, default_directory: str) -> str:
    """Validate ``path`` and return the absolute path it names.

    Raises :class:`InvalidPathError` for anything that is not a usable file name: an empty
    string, ``.``/``..`` components, empty components (``a//b``), a trailing ``/``, control
    characters, backslashes, over-long names. ``:memory:`` is returned unchanged.
    """
    if not isinstance(path, str):
        raise InvalidPathError(f"database path must be a str, not {type(path).__name__}")
    if is_memory(path):
        return path
    if path.strip() == "":
        raise InvalidPathError("database path is empty")
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise InvalidPathError("database path is longer than 1024 bytes")
    absolute = path.startswith("/")
    body = path[1:] if absolute else path
    for component in body.split("/"):
        _check_component(component, path)
    if absolute:
        return path
    if not default_directory.startswith("/"):
        raise InvalidPathError(f"default directory {default_directory!r} is not absolute")
    return posixpath.join(default_directory, body)
