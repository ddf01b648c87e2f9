"""Durations as people read them ("1 h 30 min"); ISO 8601 ones are read and written by `isodate`."""

from __future__ import annotations

from datetime import timedelta


def human(value: timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours} h {rest} min"
    return f"{hours} h" if hours else f"{rest} min"
