"""The filters of the VM tabs. They live in the URL; an unknown value is dropped with a message."""

from __future__ import annotations

from django import forms

from .inventory import CONFIGURED, NOT_CONFIGURED, UNSUPPORTED, VmRow

TABS = ((CONFIGURED, "Configured"), (NOT_CONFIGURED, "Not configured"), (UNSUPPORTED, "Unsupported"))
POWER_STATES = ("running", "stopped", "deallocated", "deallocating", "starting", "stopping", "unknown")


class FleetFilterForm(forms.Form):
    tab = forms.ChoiceField(choices=TABS, required=False)
    q = forms.CharField(label="Search by name", required=False, max_length=100)
    subscription = forms.ChoiceField(required=False)
    resource_group = forms.ChoiceField(label="Resource group", required=False)
    region = forms.ChoiceField(required=False)
    os = forms.ChoiceField(label="OS", required=False)
    power = forms.ChoiceField(label="Power state", required=False)
    per_page = forms.TypedChoiceField(label="Per page", required=False, coerce=int, empty_value=25,
                                      choices=[(n, n) for n in (10, 25, 50, 100)])

    def __init__(self, data, rows: tuple[VmRow, ...]) -> None:
        super().__init__(data)
        def choices(values) -> list[tuple[str, str]]:
            return [("", "All")] + sorted(set(values), key=lambda c: c[1].lower())
        self.fields["subscription"].choices = choices((r.subscription_id, r.subscription_name) for r in rows)
        self.fields["resource_group"].choices = choices((r.resource_group.lower(), r.resource_group) for r in rows)
        self.fields["region"].choices = choices((r.location, r.location) for r in rows)
        self.fields["os"].choices = choices((r.os_type, r.os_type) for r in rows)
        self.fields["power"].choices = [("", "All")] + [(p, p.capitalize()) for p in POWER_STATES]

    def selected(self) -> dict[str, str]:
        """The filters that are valid; invalid ones are left out (their errors say why)."""
        self.is_valid()
        return {k: v for k, v in self.cleaned_data.items() if v}

    def page_size(self) -> int:
        return self.selected().get("per_page", 25)

    def apply(self, rows: tuple[VmRow, ...]) -> list[VmRow]:
        chosen = self.selected()
        q = chosen.get("q", "").lower()
        return [r for r in rows
                if (not q or q in r.name.lower())
                and chosen.get("subscription", r.subscription_id) == r.subscription_id
                and chosen.get("resource_group", r.resource_group.lower()) == r.resource_group.lower()
                and chosen.get("region", r.location) == r.location
                and chosen.get("os", r.os_type) == r.os_type
                and chosen.get("power", r.power_state) == r.power_state]
