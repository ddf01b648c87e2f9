"""CSV downloads, streamed row by row (memory stays flat), safe to open in a spreadsheet."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse

from .report import ReportRow

AZURE_COLUMNS = ["Correlation id", "Operation name", "Status", "Event category", "Level", "Time", "Subscription",
                 "Event initiated by", "Resource type", "Resource group", "Resource"]
PORTAL_COLUMNS = ["VM", "Ports", "Source", "Justification", "Request window"]
TRAIL_COLUMNS = ["Time", "Actor", "Action", "Target", "Outcome", "Source IP", "Correlation id", "Details", "Hash"]
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def neutralise(value: object) -> str:
    """A cell a spreadsheet would run as a formula is prefixed with ' so that it stays text."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


class _Line:
    def write(self, value: str) -> str:
        return value


def stream(header: list[str], rows: Iterable[list[object]]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield "\ufeff"  # UTF-8 with a byte-order mark, so that spreadsheet programs read it as UTF-8
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([neutralise(v) for v in row])


def report_line(row: ReportRow) -> list[object]:
    e = row.event
    return [e.correlation_id, e.operation_name, e.status, e.category, e.level, e.time.strftime("%Y-%m-%dT%H:%M:%SZ"),
            row.subscription_name, e.caller, e.resource_type, e.resource_group, e.resource_id,
            row.vms, row.ports, row.source, row.justification, row.window]


def response(lines: Iterator[str], filename: str) -> StreamingHttpResponse:
    answer = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    answer["Content-Disposition"] = f'attachment; filename="{filename}"'
    return answer
