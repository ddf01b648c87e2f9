"""CSV downloads, streamed row by row (memory stays flat), safe to open in a spreadsheet.

The first line is one cell that says what the file covers (subscriptions included, those that could not
be read, rows hidden by the viewer's Azure read scope, the trail's checkpoint); the column header is the
second line. A spreadsheet shows that cell in A1, above the columns, so it cannot be missed."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse

from .report import ReportRow

AZURE_COLUMNS = ["Correlation id", "Operation name", "Status", "Event category", "Level", "Time", "Subscription",
                 "Event initiated by", "Resource type", "Resource group", "Resource"]
PORTAL_COLUMNS = ["VM", "Ports", "Source", "Justification", "Request window", "Change", "Fate", "Explained by",
                  "Approver", "Decision time", "Decision comment", "Break glass"]
TRAIL_COLUMNS = ["Time", "Actor", "Action", "Target", "Outcome", "Source IP", "Correlation id", "Details", "Seq", "MAC"]
_FORMULA_STARTS = frozenset("=+-@\t\r\n")
PIECE = 16 * 1024  # characters per piece of the response: a piece per row would cost a system call per row


def neutralise(value: object) -> str:
    """A cell a spreadsheet would run as a formula is prefixed with ' so that it stays text."""
    text = "" if value is None else str(value)
    return "'" + text if text and text[0] in _FORMULA_STARTS else text


def stream(coverage: str, header: list[str], rows: Iterable[list[object]]) -> Iterator[str]:
    yield "\ufeff"  # UTF-8 with a byte-order mark, so that spreadsheet programs read it as UTF-8
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([neutralise(coverage)])
    writer.writerow(header)
    for row in rows:
        writer.writerow([neutralise(v) for v in row])
        if buffer.tell() >= PIECE:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def report_line(row: ReportRow) -> list[object]:
    e = row.event
    return [e.correlation_id, e.operation_name, e.status, e.category, e.level, e.time.isoformat()[:19] + "Z",  # UTC
            row.subscription_name, e.caller, e.resource_type, e.resource_group, e.resource_id,
            row.vms, row.ports, row.source, row.justification, row.window, row.change, row.fate, row.joined_from,
            row.approver, row.decided and row.decided.isoformat()[:19] + "Z", row.comment, row.break_glass]


def response(lines: Iterator[str], filename: str) -> StreamingHttpResponse:
    answer = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    answer["Content-Disposition"] = f'attachment; filename="{filename}"'
    return answer
