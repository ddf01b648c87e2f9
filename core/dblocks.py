"""A named lock held until the current transaction ends, for writers that must go one at a time."""

from __future__ import annotations

import hashlib

from django.db import connection


def serialize(name: str) -> None:
    """Wait for, then hold until commit or rollback, the lock called `name`; call inside transaction.atomic().

    On PostgreSQL, `select_for_update` of the last row does not serialize appends: a waiter wakes up
    holding the row it first read, not the one appended meanwhile, and an empty table has no row to lock.
    An advisory lock does. SQLite needs nothing: its IMMEDIATE transactions already take the one write lock.
    """
    if connection.vendor != "postgresql":
        return
    key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])
