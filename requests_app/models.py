"""Access requests as people submitted them: saved before Azure is called, updated after."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.text import capfirst

from core.fates import ENDED_EARLY

from .states import ItemStatus, RequestStatus


class ApprovalRule(models.Model):
    """Which requests wait for approvers: a scope, a condition, how many approvals and how long to wait."""

    ALWAYS, LONGER, PORTS = "always", "longer", "ports"
    CONDITIONS = (
        (ALWAYS, "Always"),
        (LONGER, "When the window is longer than"),
        (PORTS, "When one of these ports is asked"),
    )

    name = models.CharField(max_length=80)
    subscription_id = models.CharField(max_length=36, blank=True)  # blank: every subscription
    resource_group = models.CharField(max_length=90, blank=True)  # blank: the whole subscription
    condition = models.CharField(max_length=10, choices=CONDITIONS, default=ALWAYS)
    longer_than_minutes = models.PositiveIntegerField(null=True, blank=True)
    ports = models.CharField(max_length=200, blank=True)  # "22, 3389"
    approvals_needed = models.PositiveSmallIntegerField(default=1)
    approvers = models.TextField(blank=True)  # user principal names, one a line; blank: every JIT.Approver
    pending_minutes = models.PositiveIntegerField(default=60)
    # An extension of an open request up to this long opens without a new approval; 0: extensions are asked again.
    extension_minutes = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def port_numbers(self) -> set[int]:
        return {int(p) for p in self.ports.replace(",", " ").split() if p.isascii() and p.isdigit()}

    @property
    def summary(self) -> str:
        """The rule in a sentence: "Production: 1 approval when a window is longer than 60 min"."""
        when = {
            self.ALWAYS: "for every request",
            self.LONGER: f"when a window is longer than {self.longer_than_minutes} min",
            self.PORTS: f"when port {self.ports} is asked",
        }[self.condition]
        count = f"{self.approvals_needed} approval{'s' if self.approvals_needed > 1 else ''}"
        return f"{self.name}: {count} {when}, decided within {self.pending_minutes} min"

    def covers(self, subscription_id: str, resource_group: str) -> bool:
        return (not self.subscription_id or self.subscription_id.lower() == subscription_id.lower()) and (
            not self.resource_group or self.resource_group.lower() == resource_group.lower()
        )

    def asks(self, port: int, minutes: int) -> bool:
        """Whether a port asked for `minutes` meets the condition."""
        if self.condition == self.LONGER:
            return minutes > (self.longer_than_minutes or 0)
        if self.condition == self.PORTS:
            return port in self.port_numbers
        return True


class AccessRequest(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="access_requests")
    created = models.DateTimeField(default=timezone.now, db_index=True)
    idempotency_key = models.CharField(max_length=64, unique=True)
    justification = models.TextField(blank=True)
    source_prefix = models.CharField(max_length=64)
    duration_minutes = models.PositiveIntegerField()
    status = models.CharField(
        max_length=10, choices=RequestStatus, default=RequestStatus.WAITING_FOR_AZURE, db_index=True
    )
    # The rule it waits on, as it was when the request was made (a rule edited later does not change it).
    rule = models.ForeignKey(ApprovalRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    rule_name = models.CharField(max_length=80, blank=True)
    approvals_needed = models.PositiveSmallIntegerField(default=0)
    approvers = models.TextField(blank=True)
    pending_until = models.DateTimeField(null=True, blank=True)
    break_glass = models.TextField(blank=True)  # the reason given for opening at once despite a rule
    extends = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="extensions")
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )  # whose token opened it (the approver's, or the requester's)
    decided_at = models.DateTimeField(null=True, blank=True)
    # When the portal last began asking Azure to open it: a request still "pending" long after was cut short
    # (a worker killed mid-call), and the worker settles it.
    opening_since = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    # Sent in one form with that request: the ports no rule covers opened there at once, this part waits for its rule.
    together_with = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="held_parts"
    )

    class Meta:
        ordering = ["-created", "-id"]

    @property
    def waits(self) -> bool:
        return self.status == RequestStatus.PENDING_APPROVAL

    @property
    def overdue(self) -> bool:
        """Waiting past its deadline: nobody decided in time (the worker or the next decision expires it)."""
        return self.waits and self.pending_until is not None and self.pending_until <= timezone.now()

    @property
    def approver_names(self) -> set[str]:
        """The approvers its rule named (lower case); empty: anyone holding JIT.Approver."""
        return {line.strip().lower() for line in self.approvers.splitlines() if line.strip()}

    def why_not_decide(self, user) -> str:
        """Why `user` may not decide on it ("" when they may): the portal role is checked by the view."""
        if self.user_id == user.pk:
            return "Nobody approves their own request."
        if self.approver_names and (user.upn or "").lower() not in self.approver_names:
            return f"The rule “{self.rule_name}” names other approvers."
        return ""

    @property
    def status_words(self) -> str:
        """Its status in the state machine's words (the full state, against Azure's history, is
        `status.request_state`)."""
        return ENDED_EARLY if self.ended_at else RequestStatus(self.status).label

    @property
    def stopped_before_azure(self) -> bool:
        """Denied, lapsed or cancelled: it never reached Azure, and its state is the workflow's."""
        return self.status in (RequestStatus.DENIED, RequestStatus.LAPSED, RequestStatus.CANCELLED)

    @property
    def approved_not_opened(self) -> bool:
        return self.status == RequestStatus.APPROVED_NOT_OPENED

    def move(self, to: RequestStatus) -> None:
        """Set the next state, when the state machine allows it after the current one (the caller saves)."""
        self.status = RequestStatus(self.status).step(to)


class Approval(models.Model):
    """One approver's decision on one request: nobody counts twice."""

    class Decision(models.TextChoices):
        APPROVE = "approve", "approved"
        DENY = "deny", "denied"

    request = models.ForeignKey(AccessRequest, on_delete=models.CASCADE, related_name="approvals")
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=8, choices=Decision)
    comment = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created", "id"]
        constraints = [models.UniqueConstraint(fields=["request", "approver"], name="one_decision_per_approver")]


class AccessRequestItem(models.Model):
    request = models.ForeignKey(AccessRequest, on_delete=models.CASCADE, related_name="items")
    vm_id = models.CharField(max_length=400)
    vm_name = models.CharField(max_length=64)
    policy_id = models.CharField(max_length=400)
    port = models.PositiveIntegerField()
    end = models.DateTimeField()  # until opened: when it would end had it opened when asked
    minutes = models.PositiveIntegerField(null=True, blank=True)  # the window asked for this port
    status = models.CharField(max_length=10, choices=ItemStatus, default=ItemStatus.WAITING_FOR_AZURE)
    message = models.TextField(blank=True)
    correlation_id = models.CharField(max_length=64, blank=True, db_index=True)  # the audit join looks it up
    # The port's own source when the person gave it one; blank: the request's `source_prefix`.
    source = models.CharField(max_length=64, blank=True)
    # Behind an Azure Firewall, Azure maps the port to one of the firewall's: the port to connect to.
    mapped_port = models.PositiveIntegerField(null=True, blank=True)
    # Ended early, this port alone (Azure replaces one VM and port's window at a time): by whom, when.
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    # The end of the window that replaced it (a minute, to nobody): Azure lists that window as open meanwhile, and
    # the portal must not take it for one opened outside the portal.
    ended_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["vm_name", "port"]

    @property
    def source_prefix(self) -> str:
        return self.source or self.request.source_prefix

    @property
    def connect_port(self) -> int:
        return self.mapped_port or self.port

    @property
    def opened(self) -> bool:
        return self.status == ItemStatus.OPENED

    @property
    def label(self) -> str:
        return capfirst(ItemStatus(self.status).label)
