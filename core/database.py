"""Where the database engine matters, in one place: the domain code asks for what it needs and never names
an engine. A named lock held until the current transaction ends (writers that must go one at a time), a
column read as the database keeps it, and statistics renewed after bulk changes."""

from __future__ import annotations

import hashlib

from django.db import connection, connections, models
from django.db.models import F, TextField
from django.db.models.expressions import Expression
from django.db.models.functions import Cast


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


def as_stored_text(field: str, using: str) -> Expression:
    """A datetime column for a bulk read: on SQLite its text as stored (the driver's own datetime parsing cost a
    CSV 6 %), elsewhere the column itself (PostgreSQL's driver gives aware datetimes cheaply). Either way,
    `datetime.fromisoformat` or the value itself makes it aware (`audit.report.aware`)."""
    return Cast(field, output_field=TextField()) if connections[using].vendor == "sqlite" else F(field)


def renew_statistics(*tables: type[models.Model]) -> None:
    """Renew SQLite's statistics of these models' tables after they grew or shrank; PostgreSQL's autovacuum
    analyses a table once a tenth of it changed. A sample of each index suffices (`analysis_limit`): a few
    milliseconds at a million rows."""
    using = connections[tables[0].objects.db]
    if using.vendor != "sqlite":
        return
    with using.cursor() as cursor:
        cursor.execute("PRAGMA analysis_limit = 1000")
        for model in tables:
            cursor.execute(f"ANALYZE {using.ops.quote_name(model._meta.db_table)}")
