"""Azure's time formats and ISO 8601 durations, and the sandbox's controllable clock."""

from __future__ import annotations

import datetime as dt

import isodate


def parse_duration(text: str) -> dt.timedelta:
    """The ISO 8601 durations Azure uses (PnDTnHnMnS); ValueError on anything else, years and months included."""
    parsed = isodate.parse_duration(text or "")
    if not isinstance(parsed, dt.timedelta):
        raise ValueError(f"'{text}' is not an ISO 8601 duration such as PT3H")
    return parsed


def format_duration(value: dt.timedelta) -> str:
    return isodate.duration_isoformat(value)


def format_time(value: dt.datetime) -> str:
    """Azure writes seven fractional digits and a Z."""
    value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond:06d}0Z"


def parse_time(text: str) -> dt.datetime:
    """Parse an ISO 8601 timestamp (Azure's seven fractional digits and Z included); naive means UTC."""
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


class Clock:
    """Real UTC time plus an offset that the control API moves forward."""

    def __init__(self, offset_seconds: float = 0.0) -> None:
        self.offset_seconds = offset_seconds

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.offset_seconds)

    def advance(self, by: dt.timedelta) -> None:
        self.offset_seconds += by.total_seconds()
