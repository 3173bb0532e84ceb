"""Every name tabsqlite gives to something outside Python: Web Locks and holds, change
channels, folders beside a database and under the temporary folder, and the tables,
views and triggers it creates in a database. Nothing else in the package spells one.

JS-only names (``js_glue/src``): ``tabsqlite-alive-<random>``, the lock a main-thread
tab's database worker holds for its whole life. No name starts with ``sqlite3-vfs-``
(sqlite-wasm's own locks). ``docs/design.md`` lists them all with their scope.
"""

from __future__ import annotations

import hashlib

__all__ = [
    "CONSUMER_REGISTRY_TABLE",
    "DATABASE_LOCK_PREFIX",
    "MEMORY_LOCK",
    "REGISTRY_TABLE",
    "STORAGE_PREFIX",
    "TRIGGER_PREFIX",
    "channel_name",
    "consumer_destination",
    "consumer_hold_name",
    "database_lock_name",
    "hold_name",
    "managed_trigger_name",
    "presence_prefix",
    "runtime_directory",
    "scope_id",
    "signal_folder",
    "storage_table",
    "tracker_destination",
    "with_storage_views",
]

#: The Web Lock a tab holds while it runs a statement or a transaction (+ scope id).
DATABASE_LOCK_PREFIX = "tabsqlite-db-"
#: The Web Lock that serializes opening private in-memory databases in a tab.
MEMORY_LOCK = "tabsqlite-memory"
#: What every table, view and trigger tabsqlite creates in a database starts with.
TRIGGER_PREFIX = "_tabsqlite_"
#: The registry of persisted diff triggers.
REGISTRY_TABLE = f"{TRIGGER_PREFIX}diff_triggers"
#: The registry of durable diff consumers (never touched by the orphan cleanup).
CONSUMER_REGISTRY_TABLE = f"{TRIGGER_PREFIX}durable_consumers"
#: A diff's storage table is this + its destination (a view of that name).
STORAGE_PREFIX = f"{TRIGGER_PREFIX}log_"


def scope_id(path: str) -> str:
    """A short, stable id of a canonical database path, used in lock and folder names."""
    return hashlib.sha256(path.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def database_lock_name(path: str) -> str:
    """The Web Lock a tab holds while it uses the database at ``path``."""
    return f"{DATABASE_LOCK_PREFIX}{scope_id(path)}"


def presence_prefix(lock_name: str) -> str:
    """The prefix of the Web Locks naming the open connections behind ``lock_name``: each
    holds ``<prefix><id>@<opened, ms since the epoch>`` while open, so a tab that waited too
    long can say whose the lock is."""
    return lock_name.replace(DATABASE_LOCK_PREFIX, "tabsqlite-conn-", 1) + "-"


def hold_name(path: str, trigger_id: str) -> str:
    """The hold guarding the managed trigger ``trigger_id`` of the database at ``path``."""
    return f"tabsqlite-hold-{scope_id(path)}-{trigger_id}"


def consumer_hold_name(path: str, name: str) -> str:
    """The hold a connection keeps while it consumes the durable diff ``name`` of the
    database at ``path`` (the name hashed: it is any identifier, and becomes a file name)."""
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]
    return f"tabsqlite-consumer-{scope_id(path)}-{digest}"


def channel_name(path: str) -> str:
    """The change channel of the database at canonical ``path`` (a BroadcastChannel's name;
    on CPython the key of its socket folder)."""
    return f"tabsqlite:{path}"


def signal_folder(base: str, uid: int, channel: str) -> tuple[str, str]:
    """The per-user folder under ``base`` and, in it, the folder of ``channel``'s sockets."""
    user = f"{base.rstrip('/')}/tabsqlite-{uid}"
    return user, f"{user}/{scope_id(channel)}"


def runtime_directory(database_path: str) -> str:
    """The folder beside the database where tabsqlite keeps its own files (hold files)."""
    return database_path + "-tabsqlite"


def storage_table(destination: str) -> str:
    """The table that stores the rows of the diff view ``destination``."""
    return f"{STORAGE_PREFIX}{destination}"


def managed_trigger_name(trigger_id: str, role: str) -> str:
    """A managed trigger: ``role`` is an operation (``insert``...) or ``view_delete``."""
    return f"{TRIGGER_PREFIX}{trigger_id}_{role}"


def tracker_destination(trigger_id: str) -> str:
    """The diff view ``track_table_diff`` keeps for its trigger."""
    return f"{TRIGGER_PREFIX}diff_{trigger_id}"


def consumer_destination(name: str) -> str:
    """The diff view of the durable consumer ``name``."""
    return f"{TRIGGER_PREFIX}consumer_{name}"


def with_storage_views(tables: frozenset[str]) -> frozenset[str]:
    """``tables`` plus the diff view of each diff storage table in it (a write to the storage
    is a change of the view, for ``on_change(tables=[destination])`` in any tab)."""
    views = {t[len(STORAGE_PREFIX):] for t in tables if t.startswith(STORAGE_PREFIX)}
    return tables | views if views else tables
