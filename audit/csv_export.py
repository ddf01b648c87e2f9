"""CSV downloads, streamed row by row (memory stays flat), safe to open in a spreadsheet.

The column header is the first line, as every spreadsheet, `csv.DictReader` and SIEM importer expects; what the
file covers (subscriptions included, those that could not be read, rows hidden by the viewer's Azure read scope,
the trail's checkpoint) travels in its evidence manifest (`evidence.py`), with the SHA-256 of these bytes."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import islice

from django.db.models import QuerySet
from django.http import StreamingHttpResponse

from .difference import details_json
from .report import EVENT_FIELDS, INITIATE, ReportRow, aware, change_of, chunks, meaning_of, report_rows, touches_of
from .scope import ReadScope

AZURE_COLUMNS = [
    "Correlation id",
    "Operation name",
    "Status",
    "Event category",
    "Level",
    "Time",
    "Subscription",
    "Event initiated by",
    "Resource type",
    "Resource group",
    "Resource",
]
PORTAL_COLUMNS = [
    "Meaning",
    "Requested by",
    "Portal request",
    "VM",
    "Ports",
    "Source",
    "Justification",
    "Request window",
    "Change",
    "Fate",
    "Explained by",
    "Approver",
    "Decision time",
    "Decision comment",
    "Break glass",
]
TRAIL_COLUMNS = ["Time", "Actor", "Action", "Target", "Outcome", "Source IP", "Correlation id", "Details", "Seq", "MAC"]


def trail_row(event) -> list:
    """One event of the portal's trail as TRAIL_COLUMNS, for the web's CSV and the API's alike."""
    return [
        event.created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        event.actor_name,
        event.action,
        event.target,
        event.outcome,
        event.source_ip or "",
        event.correlation_id,
        details_json(event.details),
        event.seq,
        event.mac,
    ]


# What a spreadsheet may run as a formula when a cell starts with it: = + - @, tab and line ends, and their lookalikes
# (full-width ＝ ＋ － ＠, small and super/subscript forms: a Japanese IME types ＝ and spreadsheets take it as =; the
# minus sign; vertical tab, form feed, NEL and the Unicode line and paragraph separators).
_FORMULA_STARTS = frozenset("=+-@\t\r\n\x0b\x0c\x85\u2028\u2029\u2212") | frozenset(
    chr(i)
    for start, end in ((0x2000, 0x3000), (0xFB00, 0x10000))
    for i in range(start, end)
    if unicodedata.normalize("NFKC", chr(i))[:1] in "=+-@"
)
PIECE = 16 * 1024  # characters per piece of the response: a piece per row would cost a system call per row
ROWS_AT_ONCE = 8  # rows neutralised and written in one call, then the piece checked
NO_DECISION = ("", "", "", "")  # a policy change's approver, decision time, comment and break glass


def neutralise(value: object) -> str:
    """A cell a spreadsheet would run as a formula is prefixed with ' so that it stays text."""
    text = "" if value is None else str(value)
    return "'" + text if text and text[0] in _FORMULA_STARTS else text


def stream(header: list[str], rows: Iterable[list[object]]) -> Iterator[str]:
    yield "\ufeff"  # UTF-8 with a byte-order mark, so that spreadsheet programs read it as UTF-8
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    rows = iter(rows)
    starts = _FORMULA_STARTS
    while True:
        written = buffer.tell()
        # `neutralise` inline for text (nearly every cell): a call per cell cost a CSV a tenth of its time.
        writer.writerows(
            [("'" + v if v and v[0] in starts else v) if type(v) is str else neutralise(v) for v in row]
            for row in islice(rows, ROWS_AT_ONCE)
        )
        if buffer.tell() == written:  # no row was left (a row, even of no cells, writes its line's end)
            break
        if buffer.tell() >= PIECE:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def report_lines(
    events: QuerySet, names: dict[str, str], scope: ReadScope, vm_id: str = "", azure_now: datetime | None = None
) -> Iterator[list[str]]:
    """Every event of `events` (from `matching`) as a CSV line, a chunk at a time (flat memory). A policy change's
    line is built straight from the database's row and its touches (at volume, most of an archive); a request's
    goes through `report_rows` (the portal's trail, Azure's request lines)."""
    for chunk in chunks(events):
        touched: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for event_id, vm_name, line, _ in touches_of([r[_ID] for r in chunk], vm_id):
            touched[event_id].append((vm_name, line))
        requests = [aware(r) for r in chunk if r[_OPERATION].endswith(INITIATE)]
        explained = (
            {row.event.id: report_line(row) for row in report_rows(requests, names, scope, vm_id, azure_now)}
            if requests
            else {}
        )
        for r in chunk:
            line = explained.get(r[_ID])
            if line is None:
                line = [
                    r[_CORRELATION],
                    r[_NAME],
                    r[_STATUS],
                    r[_CATEGORY],
                    r[_LEVEL],
                    _iso(r[_TIME]),
                    names.get(r[_SUBSCRIPTION], r[_SUBSCRIPTION_ID]),
                    r[_CALLER],
                    r[_TYPE],
                    r[_GROUP],
                    r[_RESOURCE],
                    meaning_of(r[_OPERATION], r[_MEANING], r[_CALLER]),
                    r[_REQUESTED] or r[_CALLER],
                    "",
                    *change_of(touched.get(r[_ID], ()), r[_EXPLAINED]),
                    *NO_DECISION,
                ]
            yield line


(
    _ID,
    _CORRELATION,
    _OPERATION,
    _NAME,
    _STATUS,
    _CATEGORY,
    _LEVEL,
    _TIME,
    _SUBSCRIPTION_ID,
    _CALLER,
    _TYPE,
    _GROUP,
    _RESOURCE,
    _SUBSCRIPTION,
    _EXPLAINED,
    _MEANING,
    _REQUESTED,
) = (
    EVENT_FIELDS.index(f)
    for f in (
        "id",
        "correlation_id",
        "operation",
        "operation_name",
        "status",
        "category",
        "level",
        "time",
        "subscription_id",
        "caller",
        "resource_type",
        "resource_group",
        "resource_id",
        "scope_subscription",
        "explained_by",
        "meaning",
        "requested_by",
    )
)


def _iso(moment: datetime | str) -> str:
    """A moment in UTC as the CSV writes it, from the database's value (a datetime in UTC, or SQLite's text)."""
    return f"{moment[:10]}T{moment[11:19]}Z" if isinstance(moment, str) else moment.isoformat()[:19] + "Z"


def report_line(row: ReportRow) -> list[object]:
    e = row.event
    return [
        e.correlation_id,
        e.operation_name,
        e.status,
        e.category,
        e.level,
        e.time.isoformat()[:19] + "Z",  # UTC
        row.subscription_name,
        e.caller,
        e.resource_type,
        e.resource_group,
        e.resource_id,
        row.meaning,
        row.requested_by,
        row.request,
        row.vms,
        row.ports,
        row.source,
        row.justification,
        row.window,
        row.change,
        row.fate,
        row.joined_from,
        row.approver,
        row.decided and row.decided.isoformat()[:19] + "Z",
        row.comment,
        row.break_glass,
    ]


def response(
    pieces: Iterator[bytes], filename: str, manifest_url: str = "", media_type: str = "text/csv"
) -> StreamingHttpResponse:
    answer = StreamingHttpResponse(pieces, content_type=f"{media_type}; charset=utf-8")
    answer["X-Content-Type-Options"] = "nosniff"
    answer["Content-Disposition"] = f'attachment; filename="{filename}"'
    if manifest_url:
        answer["Link"] = f'<{manifest_url}>; rel="describedby"; type="application/json"'  # its evidence manifest
    return answer
