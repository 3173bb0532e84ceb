"""Whole-database copies: :meth:`Database.export` and :func:`import_database`.

An export is the bytes of a consistent snapshot (SQLite's ``sqlite3_serialize`` inside a
read transaction), written as a rollback-journal file so it opens anywhere as it is.

An import replaces the content of a database file that other tabs or processes may have
open, the way SQLite's backup API does it: the bytes are checked first (the header here,
then SQLite's ``quick_check`` on a private in-memory copy: bytes that fail leave the file
untouched), then copied in page by page under the file's write lock, as one commit. The
other connections see the new content at their next statement (SQLite's change counter),
and the commit is announced with every table of the old and the new schema, so their
watches wake.
"""

from __future__ import annotations

from .errors import SQLITE_NOTADB, BadCallError, NotADatabaseError

__all__ = ["HEADER", "checked_image", "rollback_mode_image"]

#: The first 16 bytes of every SQLite database file.
HEADER = b"SQLite format 3\x00"
_WAL_VERSIONS = 2  # bytes 18 and 19 (write and read format): 2 means WAL, 1 rollback


def _not_a_database(why: str) -> NotADatabaseError:
    return NotADatabaseError(f"not an SQLite database: {why}", extended_code=SQLITE_NOTADB)


def rollback_mode_image(data: bytes) -> bytes:
    """``data`` with its header saying "rollback journal" where it said "WAL": a WAL
    file's pages are complete once serialized, and such an image opens anywhere (an
    in-memory copy cannot be in WAL mode).

    :param data: a database image.
    """
    if len(data) >= 20 and data[18] == _WAL_VERSIONS and data[19] == _WAL_VERSIONS:
        return data[:18] + b"\x01\x01" + data[20:]
    return data


def checked_image(data: object) -> bytes:
    """``data`` as bytes ready for a runtime's restore, after the checks that need no
    SQLite: the header, the page size, a length that is whole pages.

    :param data: what the caller gave as a database (bytes-like).
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise BadCallError(f"the database must be bytes, not {type(data).__name__}")
    image = bytes(data)
    if len(image) < 100 or not image.startswith(HEADER):
        raise _not_a_database(f"its {len(image)} bytes do not begin with the SQLite header")
    size = int.from_bytes(image[16:18], "big")
    page_size = 65536 if size == 1 else size
    if page_size < 512 or page_size & (page_size - 1):
        raise _not_a_database(f"its header names a page size of {size}")
    if len(image) % page_size:
        raise _not_a_database(f"{len(image)} bytes are not a whole number of "
                              f"{page_size}-byte pages (a cut-off file?)")
    return rollback_mode_image(image)
