from datetime import UTC, datetime

from django import template
from django.utils.html import format_html

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
    return format_html('<time datetime="{}" class="local">{} UTC</time>', utc.isoformat(timespec="seconds"),
                       utc.strftime("%Y-%m-%d %H:%M"))


@register.filter
def window(value: str):
    """{{ row.window|window }}: an ISO 8601 interval ("start/end", as the CSV carries it) shown as two moments."""
    try:
        start, end = (datetime.fromisoformat(part) for part in (value or "").split("/"))
    except ValueError:
        return value
    return format_html("{} – {}", when(start), when(end))
