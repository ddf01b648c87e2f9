"""A request's one state machine: its states (the database's values, every page's words), which state may follow
which, and the same for each VM port of it. Every change of a status goes through `RequestStatus.step` or
`ItemStatus.step` (one row) or `ItemStatus.from_states` (a guarded bulk UPDATE), so a state that may not follow
another is refused where it is written, not found later on a page."""

from __future__ import annotations

from django.db import models


class IllegalTransition(ValueError):
    pass


class RequestStatus(models.TextChoices):
    # The values are what the database has always held ("pending" is waiting for Azure, not for approvers).
    PENDING_APPROVAL = "awaiting", "pending approval"
    WAITING_FOR_AZURE = "pending", "waiting for Azure"
    OPENED = "opened", "opened"
    PARTLY_OPENED = "partial", "partly opened"
    NOT_OPENED = "failed", "not opened"
    # The approvals are in, but Azure refused (or failed) the approver who opened it: another approver may.
    APPROVED_NOT_OPENED = "approved", "approved, not opened"
    DENIED = "denied", "denied"
    LAPSED = "lapsed", "expired (nobody decided)"
    CANCELLED = "cancelled", "cancelled"

    def step(self, to: RequestStatus) -> RequestStatus:
        """`to`, when it may follow this state; IllegalTransition otherwise."""
        if to not in REQUEST_TRANSITIONS[self]:
            raise IllegalTransition(f"A request {self.label} cannot become {to.label}.")
        return to

    @classmethod
    def from_states(cls, to: RequestStatus) -> list[RequestStatus]:
        """The states `to` may follow: a guarded UPDATE's filter."""
        return [s for s, nexts in REQUEST_TRANSITIONS.items() if to in nexts]


class ItemStatus(models.TextChoices):
    WAITING_FOR_AZURE = "pending", "waiting for Azure"
    OPENED = "opened", "opened"
    REFUSED = "refused", "refused by Azure"  # final: Azure said no
    FAILED = "failed", "not opened (try again)"  # not applied, worth asking again
    UNKNOWN = "unknown", "not confirmed"  # no answer, and no way to check at the time

    def step(self, to: ItemStatus) -> ItemStatus:
        if to not in ITEM_TRANSITIONS[self]:
            raise IllegalTransition(f"A port {self.label} cannot become {to.label}.")
        return to

    @classmethod
    def from_states(cls, to: ItemStatus) -> list[ItemStatus]:
        return [s for s, nexts in ITEM_TRANSITIONS.items() if to in nexts]


R, Item = RequestStatus, ItemStatus
REQUEST_TRANSITIONS: dict[RequestStatus, frozenset[RequestStatus]] = {
    R.PENDING_APPROVAL: frozenset({R.WAITING_FOR_AZURE, R.DENIED, R.CANCELLED, R.LAPSED}),
    R.WAITING_FOR_AZURE: frozenset(
        {R.OPENED, R.PARTLY_OPENED, R.NOT_OPENED, R.APPROVED_NOT_OPENED}
    ),  # an approver's opening came to nothing
    R.NOT_OPENED: frozenset({R.APPROVED_NOT_OPENED}),  # an approved request Azure refused stays approved
    R.APPROVED_NOT_OPENED: frozenset({R.WAITING_FOR_AZURE}),  # another approver opens it
    R.OPENED: frozenset(),
    R.PARTLY_OPENED: frozenset(),
    R.DENIED: frozenset(),
    R.LAPSED: frozenset(),
    R.CANCELLED: frozenset(),
}
ITEM_TRANSITIONS: dict[ItemStatus, frozenset[ItemStatus]] = {
    # Asked again before any answer came (an approver's opening cut short): it waits for Azure again.
    Item.WAITING_FOR_AZURE: frozenset({Item.OPENED, Item.REFUSED, Item.FAILED, Item.UNKNOWN, Item.WAITING_FOR_AZURE}),
    # Asked again (another approver opens an approved request): each port waits for Azure once more.
    Item.REFUSED: frozenset({Item.WAITING_FOR_AZURE}),
    # Or seen open in Azure's request history after its answer was lost: applied late.
    Item.FAILED: frozenset({Item.WAITING_FOR_AZURE, Item.OPENED}),
    Item.UNKNOWN: frozenset({Item.WAITING_FOR_AZURE, Item.OPENED}),
    Item.OPENED: frozenset(),
}
# A request that waits on people, or ended without reaching Azure: its state is the workflow's, not Azure's.
WORKFLOW = frozenset({R.PENDING_APPROVAL, R.APPROVED_NOT_OPENED, R.DENIED, R.LAPSED, R.CANCELLED})
DID_OPEN = frozenset({R.OPENED, R.PARTLY_OPENED})
del R, Item
