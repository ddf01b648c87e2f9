"""The filters of the VM tabs. They live in the URL; an unknown value is dropped with a message."""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta

from django import forms

from jitportal.gateway import PortRule

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
        data = data.copy()
        data.setdefault("per_page", "25")  # so that the select shows the size the table uses
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


class PortForm(forms.Form):
    """One port rule. `clean()` puts the domain value, a PortRule, in cleaned_data["rule"]."""

    number = forms.IntegerField(label="Port", min_value=1, max_value=65535,
                                error_messages={"min_value": "A port is between 1 and 65535.",
                                                "max_value": "A port is between 1 and 65535."})
    protocol = forms.ChoiceField(choices=[("*", "Any"), ("TCP", "TCP"), ("UDP", "UDP")], initial="*")
    source = forms.ChoiceField(label="Allowed source IPs", initial="per-request",
                               choices=[("per-request", "Per request"), ("list", "These IPs/CIDRs")])
    addresses = forms.CharField(label="IPs or CIDRs", required=False, max_length=2000,
                                help_text="Separated by commas or spaces, e.g. 10.0.0.0/24, 203.0.113.7")
    max_value = forms.IntegerField(label="Maximum request time", min_value=1, max_value=1440, initial=3)
    max_unit = forms.ChoiceField(label="Unit", choices=[("hours", "hours"), ("minutes", "minutes")], initial="hours")

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if data["source"] == "per-request":
            prefixes: tuple[str, ...] = ("*",)
        else:
            prefixes = tuple(self._prefixes(data.get("addresses", "")))
        minutes = data["max_value"] * (60 if data["max_unit"] == "hours" else 1)
        if data["max_unit"] == "hours" and not 1 <= data["max_value"] <= 24:
            self.add_error("max_value", "Whole hours from 1 to 24.")
        elif not 5 <= minutes <= 1440:
            self.add_error("max_value", "From 5 minutes to 24 hours.")
        if not self.errors:
            data["rule"] = PortRule(data["number"], data["protocol"], prefixes, timedelta(minutes=minutes))
        return data

    def _prefixes(self, text: str) -> list[str]:
        items = [item for item in re.split(r"[\s,;]+", text.strip()) if item]
        if not items:
            self.add_error("addresses", "List at least one IP or CIDR, or choose Per request.")
        prefixes = []
        for item in items:
            try:
                network = ipaddress.ip_network(item, strict=False)
            except ValueError:
                self.add_error("addresses", f"'{item[:60]}' is not an IP address or CIDR range.")
                continue
            prefixes.append(str(network.network_address) if network.num_addresses == 1 and "/" not in item
                            else str(network))
        return prefixes


class BasePortFormSet(forms.BaseFormSet):
    def add_fields(self, form, index) -> None:
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].label = "Remove"
    def clean(self) -> None:
        if any(self.errors):
            return
        rules = [f.cleaned_data["rule"] for f in self.forms
                 if f.cleaned_data and "rule" in f.cleaned_data and not f.cleaned_data.get("DELETE")]
        if not rules:
            raise forms.ValidationError("Keep or add at least one port: JIT needs a port to protect.")
        numbers = [r.number for r in rules]
        duplicates = sorted({n for n in numbers if numbers.count(n) > 1})
        if duplicates:
            raise forms.ValidationError(f"Port {', '.join(map(str, duplicates))} is listed more than once.")
        self.rules = tuple(sorted(rules, key=lambda r: r.number))


PortFormSet = forms.formset_factory(PortForm, formset=BasePortFormSet, extra=2, can_delete=True, max_num=50,
                                    validate_max=True)


def port_initial(rules) -> list[dict]:
    return [{
        "number": r.number, "protocol": r.protocol,
        "source": "per-request" if r.allowed_prefixes == ("*",) else "list",
        "addresses": "" if r.allowed_prefixes == ("*",) else ", ".join(r.allowed_prefixes),
        "max_value": int(r.max_duration.total_seconds() // 3600) if r.max_duration.total_seconds() % 3600 == 0
        else int(r.max_duration.total_seconds() // 60),
        "max_unit": "hours" if r.max_duration.total_seconds() % 3600 == 0 else "minutes",
    } for r in rules]
