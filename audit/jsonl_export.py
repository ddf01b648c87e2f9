"""JSON lines: the report's rows (exactly the CSV's), one JSON object a line, with stable snake_case field names and
an event code per kind of event (`events.py`; docs/audit-events.md), for SIEM importers and scripts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from . import events
from .csv_export import AZURE_COLUMNS, PIECE, PORTAL_COLUMNS

MEDIA_TYPE = "application/x-ndjson"
# The CSV's columns, named for programs (the API's report rows have the same): stable (docs/audit-events.md); new
# ones are only ever added.
FIELDS = (
    "correlation_id",
    "operation",
    "status",
    "category",
    "level",
    "time",
    "subscription",
    "initiated_by",
    "resource_type",
    "resource_group",
    "resource",
    "meaning",
    "requested_by",
    "portal_request",
    "vms",
    "ports",
    "source",
    "justification",
    "window",
    "change",
    "fate",
    "explained_by",
    "approver",
    "decided",
    "comment",
    "break_glass",
)
assert len(FIELDS) == len(AZURE_COLUMNS + PORTAL_COLUMNS)
_MEANING, _STATUS = FIELDS.index("meaning"), FIELDS.index("status")


def kind_of_row(meaning: str) -> events.Kind:
    """A report row's kind from its meaning ("ended early by …" and "extension of request …" name more)."""
    if meaning.startswith("ended early"):
        return events.ENDED
    if meaning.startswith("extension"):
        return events.EXTENDED
    return events.BY_WORDS.get(meaning, events.OTHER)


def as_dict(row: list) -> dict:
    """A row (a CSV line's values, in the CSV's order) with its event code and type, and named fields."""
    kind = kind_of_row(row[_MEANING] or "")
    named = dict(zip(FIELDS, row, strict=True))
    return {
        "event_code": events.code(kind, events.azure_letter(row[_STATUS])),
        "event_type": kind.type,
        **named,
        "decided": named["decided"] or None,
    }


def stream(rows: Iterable[list]) -> Iterator[str]:
    """Each row as one JSON line (`as_dict`), written in pieces of PIECE characters."""
    piece: list[str] = []
    size = 0
    for row in rows:
        line = json.dumps(as_dict(row), ensure_ascii=False, separators=(",", ":"))
        piece.append(line)
        size += len(line) + 1
        if size >= PIECE:
            yield "\n".join(piece) + "\n"
            piece, size = [], 0
    if piece:
        yield "\n".join(piece) + "\n"
