"""One vocabulary for what became of an access request, on every page: Azure's status and reason, mapped once.

Floor 1, so that `vms` (the VM page) and `requests_app` (its own page, My access) and the audit report all
word a request port's fate the same way."""

from __future__ import annotations

from datetime import datetime

OPEN, EXPIRED, REPLACED, REVOKED = "open", "expired", "replaced by a newer request", "revoked"
# A request's fate before or instead of opening, and after an early end (the approval workflow's states).
PENDING_APPROVAL, DENIED, LAPSED, CANCELLED = "pending approval", "denied", "expired (nobody decided)", "cancelled"
APPROVED_NOT_OPENED, ENDED_EARLY = "approved, not opened", "ended early"
WAITING_FOR_AZURE = "waiting for Azure"


def azure_fate(status: str, reason: str, end: datetime, now: datetime) -> str:
    """A request port's fate from Azure's `status`/`statusReason` (Initiated/Revoked; UserRequested, Expired,
    NewerRequestInitiated) and its end against Azure's clock (an Initiated port past its end has expired)."""
    if reason == "NewerRequestInitiated":
        return REPLACED
    if status == "Initiated":
        return OPEN if end > now else EXPIRED
    return EXPIRED if reason == "Expired" else REVOKED
