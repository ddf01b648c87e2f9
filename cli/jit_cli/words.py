"""Small pure helpers: durations and dates as people type them, a request's state as an outcome, time left."""

from __future__ import annotations

import datetime as dt
import re

from .errors import Exit, JitError

_PART = re.compile(r"(\d+)\s*([dhm])", re.IGNORECASE)
_ISO = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$", re.IGNORECASE)
_UNIT_MINUTES = {"d": 24 * 60, "h": 60, "m": 1}


def minutes(text: str) -> int:
    """'2h', '90m', '1h30m', '1d' or ISO 8601 ('PT2H') → whole minutes."""
    text = text.strip()
    iso = _ISO.match(text)
    if iso and any(iso.groups()):
        days, hours, mins = (int(g or 0) for g in iso.groups())
        return days * 24 * 60 + hours * 60 + mins
    parts = _PART.findall(text)
    if not parts or _PART.sub("", text).strip():
        raise JitError(f"'{text}' is not a duration: write 2h, 90m, 1h30m or PT2H.", Exit.USAGE, "usage")
    return sum(int(n) * _UNIT_MINUTES[u.lower()] for n, u in parts)


def since(text: str, now: dt.datetime) -> dt.datetime:
    """'7d', '24h' (that long ago), or a date or time in ISO 8601 (UTC when no zone is given)."""
    try:
        return now - dt.timedelta(minutes=minutes(text))
    except JitError:
        pass
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise JitError(
            f"'{text}' is neither a duration (7d, 24h) nor a date (2026-12-01).", Exit.USAGE, "usage"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def outcome(state: str) -> Exit | None:
    """A request's state, in the portal's words ("Open now", "Pending approval (0 of 1)", "Waiting for Azure",
    "Denied", "Refused", "Not opened (try again)", "Approved, not opened", "Not confirmed", "Expired",
    "Expired (nobody decided)", "Cancelled", "Ended early", "Replaced by a newer request"…) → how the command
    ends; None while a decision or Azure is still awaited."""
    state = state.strip().lower()
    if state.startswith("open"):  # "Open now (partly refused)" is open too: some ports are
        return Exit.OK
    if state.startswith(("pending", "waiting")):
        return None
    if state.startswith("denied"):
        return Exit.DENIED
    if state.startswith(("refused", "not opened", "approved, not opened")):
        return Exit.AZURE_REFUSED
    if state.startswith("not confirmed"):
        return Exit.OTHER
    return Exit.EXPIRED  # expired, lapsed, cancelled, ended early, replaced, revoked


def time_left(end: str | None, now: dt.datetime) -> str:
    if not end:
        return ""
    left = dt.datetime.fromisoformat(end.replace("Z", "+00:00")) - now
    if left.total_seconds() <= 0:
        return "ended"
    hours, rest = divmod(int(left.total_seconds()) // 60, 60)
    return f"{hours} h {rest:02d} min" if hours else f"{rest} min"


def duration_words(total_minutes: int) -> str:
    hours, rest = divmod(total_minutes, 60)
    return " ".join(filter(None, [f"{hours} h" if hours else "", f"{rest} min" if rest else ""])) or "0 min"
