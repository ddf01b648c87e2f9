from datetime import UTC, datetime

from django import template
from django.utils.html import format_html, format_html_join

from core.durations import human
from core.fates import azure_fate

register = template.Library()


@register.filter
def duration(value):
    """{{ port.max_duration|duration }} → "3 h"."""
    return human(value) if value is not None else ""


@register.filter
def fate(line, now):
    """{{ line|fate:inventory.azure_now }} → "replaced by a newer request": a request line's fate, worded once."""
    return azure_fate(line.status, line.reason, line.end, now)


@register.filter
def when(value: datetime | None):
    """{{ item.end|when }} → a <time> in UTC that static/js/local-time.js shows in the reader's own time zone,
    with the UTC value beside it: one way to show a moment on every page (CSV files carry ISO 8601)."""
    if value is None:
        return ""
    utc = value.astimezone(UTC)
    return format_html(
        '<time datetime="{}" class="local">{} UTC</time>',
        utc.isoformat(timespec="seconds"),
        utc.strftime("%Y-%m-%d %H:%M"),
    )


@register.filter
def window(value: str):
    """{{ row.window|window }}: an ISO 8601 interval ("start/end", as the CSV carries it) shown as two moments; where
    VM:port pairs have windows of their own ("dev-02:5986 start/end; dev-06:22 start/end"), each after its pair."""
    parts = []
    for part in (value or "").split("; "):
        label, _, interval = part.rpartition(" ")
        try:
            start, end = (datetime.fromisoformat(x) for x in interval.split("/"))
        except ValueError:
            return value
        parts.append(format_html("{}{} – {}", f"{label} " if label else "", when(start), when(end)))
    return format_html_join("; ", "{}", ((p,) for p in parts))
