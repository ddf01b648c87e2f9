"""Filters of the audit views: a date range within the archive's retention, and narrowing fields."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django import forms
from django.conf import settings
from django.utils import timezone as dj_timezone

from .report import Filters

RETENTION = timedelta(days=settings.AUDIT_RETENTION_DAYS)  # the archive's, which reaches past Azure's 90 days
DEFAULT_SPAN = timedelta(days=7)


class AuditFilterForm(forms.Form):
    start = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    subscription = forms.CharField(label="Subscription", required=False, max_length=36)
    resource_group = forms.CharField(label="Resource group", required=False, max_length=90)
    vm = forms.CharField(label="VM", required=False, max_length=64)
    person = forms.CharField(label="Person", required=False, max_length=254)
    operation = forms.ChoiceField(
        label="Operation",
        required=False,
        choices=[
            ("", "All"),
            (
                "Meaning",
                [
                    ("grant", "Access granted"),
                    ("extension", "Extensions"),
                    ("end", "Ended early"),
                    ("enable", "JIT enabled"),
                    ("remove", "JIT removed"),
                    ("exposure", "Exposure windows (JIT health)"),
                ],
            ),
            (
                "Azure's operation",
                [
                    ("initiate", "Initiate (request access)"),
                    ("write", "Create or update policy"),
                    ("delete", "Delete policy"),
                ],
            ),
        ],
    )

    def __init__(self, data, *args, **kwargs) -> None:
        data = data.copy()
        today = dj_timezone.now().date()
        data.setdefault("end", today.isoformat())  # so that the inputs show the range the report uses
        data.setdefault("start", (today - DEFAULT_SPAN).isoformat())
        super().__init__(data, *args, **kwargs)

    def clean(self):
        data = super().clean()
        today = dj_timezone.now().date()
        end = min(data.get("end") or today, today)
        if end < today - RETENTION:
            # Checked before any arithmetic: a date near year 1 minus the default span overflows.
            self.add_error("end", f"The archive keeps JIT history for {RETENTION.days} days; pick a later date.")
            end = today
        start = data.get("start") or end - DEFAULT_SPAN
        if start > end:
            self.add_error("start", "From must not be after To.")
        if start < today - RETENTION:
            self.add_error("start", f"The archive keeps JIT history for {RETENTION.days} days; pick a later date.")
        data["start"], data["end"] = start, end
        return data

    def filters(self) -> Filters:
        """The valid filters; invalid ones fall back to the defaults (their errors say why)."""
        self.is_valid()
        data = self.cleaned_data
        today = dj_timezone.now().date()
        start, end = data.get("start"), data.get("end")
        if "start" in self.errors or "end" in self.errors or not start or not end:
            start, end = today - DEFAULT_SPAN, today  # a bad range falls back to the default, whole
        return Filters(
            start=datetime.combine(start, time.min, UTC),
            end=datetime.combine(end, time.max, UTC),
            **{
                k: data.get(k, "") or ""
                for k in ("subscription", "resource_group", "vm", "person", "operation")
                if k not in self.errors
            },
        )

    def range_label(self) -> str:
        f = self.filters()
        return f"{f.start:%Y-%m-%d}_to_{f.end:%Y-%m-%d}"
