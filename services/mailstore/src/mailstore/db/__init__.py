"""Every SQL statement of the mail store, in one module per area, re-exported here.

Functions take the pool (or a connection) first and keyword-only arguments after; values
always travel as ``$n`` parameters. Rows come back as asyncpg records whose columns are the
names used here; jsonb columns are decoded to Python objects by :func:`init_connection`.
Callers write ``db.get_account(...)`` and need not know which module holds it.
"""

from __future__ import annotations

from mailstore.db.accounts import create_account, directory, get_account, record_login
from mailstore.db.changes import (
    delete_forever,
    delete_many_forever,
    empty_trash,
    move_many_to_trash,
    move_to_trash,
    purge_trash,
    restore,
    restore_many,
    set_read,
    set_read_many,
)
from mailstore.db.connection import (
    DATABASE_OUTAGE,
    UNSTORABLE,
    Connection,
    Pool,
    Record,
    init_connection,
    is_outage,
    ping,
    storable,
)
from mailstore.db.delivery import (
    NewEntry,
    NewMessage,
    StoreOutcome,
    store_message,
    store_messages,
)
from mailstore.db.messages import (
    FOLDERS,
    folder_counts,
    get_attachment,
    get_message,
    get_raw,
    get_summary,
    list_attachments,
    list_folder,
    raw_size,
    raw_slice,
    unread_counts,
)
from mailstore.db.schema import (
    MIGRATION_LOCK_KEY,
    applied_migration_versions,
    create_database,
    drop_database,
    lock_migrations,
    quote_ident,
    record_migration,
)
from mailstore.db.searching import search
from mailstore.db.sessions import (
    create_session,
    create_token,
    end_session,
    end_sessions_of,
    list_tokens,
    prune_sessions,
    revoke_token,
    use_session,
    use_token,
)
from mailstore.db.throttle import MAX_WINDOW_SECONDS, ThrottleResult, forget, hit, prune_throttle

__all__ = [
    "DATABASE_OUTAGE",
    "FOLDERS",
    "MAX_WINDOW_SECONDS",
    "MIGRATION_LOCK_KEY",
    "UNSTORABLE",
    "Connection",
    "NewEntry",
    "NewMessage",
    "Pool",
    "Record",
    "StoreOutcome",
    "ThrottleResult",
    "applied_migration_versions",
    "create_account",
    "create_database",
    "create_session",
    "create_token",
    "delete_forever",
    "delete_many_forever",
    "directory",
    "drop_database",
    "empty_trash",
    "end_session",
    "end_sessions_of",
    "folder_counts",
    "forget",
    "get_account",
    "get_attachment",
    "get_message",
    "get_raw",
    "get_summary",
    "hit",
    "init_connection",
    "is_outage",
    "list_attachments",
    "list_folder",
    "list_tokens",
    "lock_migrations",
    "move_many_to_trash",
    "move_to_trash",
    "ping",
    "prune_sessions",
    "prune_throttle",
    "purge_trash",
    "quote_ident",
    "raw_size",
    "raw_slice",
    "record_login",
    "record_migration",
    "restore",
    "restore_many",
    "revoke_token",
    "search",
    "set_read",
    "set_read_many",
    "storable",
    "store_message",
    "store_messages",
    "unread_counts",
    "use_session",
    "use_token",
]
