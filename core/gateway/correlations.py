"""The Azure correlation ids of the calls made while serving one request, for that request's log line."""

from __future__ import annotations

import contextvars

CORRELATIONS: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("correlations", default=None)


def note_correlation(correlation_id: str) -> None:
    """Remember an Azure correlation id for the current request's line (a no-op outside a request)."""
    found = CORRELATIONS.get()
    if found is not None and correlation_id:
        found.append(correlation_id)
