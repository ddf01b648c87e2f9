"""One vocabulary for what became of an access request port in Azure, on every page: Azure's status and reason,
mapped once (the portal's own states and their words are `requests_app.states`).

Floor 1, so that `vms` (the VM page) and `requests_app` (its own page, My access) and the audit report all
word a request port's fate the same way."""

from __future__ import annotations

from datetime import datetime

OPEN, EXPIRED, REPLACED, REVOKED = "open", "expired", "replaced by a newer request", "revoked"
ENDED_EARLY = "ended early"  # a port someone closed before its end (the portal's End now)


def azure_fate(status: str, reason: str, end: datetime, now: datetime) -> str:
    """A request port's fate from Azure's `status`/`statusReason` (Initiated/Revoked; UserRequested, Expired,
    NewerRequestInitiated) and its end against Azure's clock (an Initiated port past its end has expired)."""
    if reason == "NewerRequestInitiated":
        return REPLACED
    if status == "Initiated":
        return OPEN if end > now else EXPIRED
    return EXPIRED if reason == "Expired" else REVOKED
