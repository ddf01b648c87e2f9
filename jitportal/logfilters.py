"""Log filters LOGGING names."""

from __future__ import annotations

import logging
from collections.abc import Callable


def forbidden_in_one_line() -> Callable[[logging.LogRecord], bool]:
    """A 403 is a refusal the portal meant, not a fault: its record keeps the line and drops the traceback."""
    def keep(record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info, record.exc_text = None, None
        return True
    return keep
