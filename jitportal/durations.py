"""Durations: ISO 8601 as Azure writes them ("PT3H", "P1D", "PT1H30M") and as people read them ("1 h 30 min")."""

from __future__ import annotations

import re
from datetime import timedelta

_ISO = re.compile(r"^P(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$")


def parse_iso(text: str) -> timedelta:
    """The day-time durations Azure uses (PnDTnHnMnS); ValueError for anything else."""
    found = _ISO.match(text or "")
    if not found or text in ("P", "PT") or text.endswith("T"):
        raise ValueError(f"'{text}' is not an ISO 8601 duration such as PT3H")
    return timedelta(**{k: float(v) for k, v in found.groupdict().items() if v})


def iso(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    clock = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    if not clock and not days:
        clock = "0S"
    return "P" + (f"{days}D" if days else "") + (f"T{clock}" if clock else "")


def human(value: timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours} h {rest} min"
    return f"{hours} h" if hours else f"{rest} min"
