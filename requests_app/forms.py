"""The access-request form: per VM its JIT ports, one source, one window, a justification.

Only what the policy allows can be asked for: `clean()` refuses ports over their maximum time and
sources the policy does not list verbatim, before Azure is asked.
"""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django import forms
from django.conf import settings
from django.core import signing

from jitportal.durations import human
from jitportal.gateway import PortRule
from vms.inventory import VmRow

MY_IP, OTHER = "my-ip", "other"
KEY_SALT, KEY_LIFETIME = "requests.key", 12 * 3600


def new_request_key() -> str:
    return signing.dumps(str(uuid.uuid4()), salt=KEY_SALT)


@dataclass(frozen=True)
class Choice:
    row: VmRow
    port: PortRule

    @property
    def field_name(self) -> str:
        return f"port-{self.row.vm_id.lower()}-{self.port.number}"


def _canonical(text: str) -> str:
    network = ipaddress.ip_network(text.strip(), strict=False)
    return str(network.network_address) if network.num_addresses == 1 and "/" not in text else str(network)


class RequestAccessForm(forms.Form):
    source = forms.ChoiceField(label="Source", widget=forms.RadioSelect)
    other_source = forms.CharField(label="Another IP or CIDR", required=False, max_length=64)
    duration_value = forms.IntegerField(label="For", min_value=1, max_value=1440)
    duration_unit = forms.ChoiceField(label="Unit", choices=[("hours", "hours"), ("minutes", "minutes")])
    justification = forms.CharField(label="Why do you need access?", max_length=1000, widget=forms.Textarea(
        attrs={"rows": 3}))
    request_key = forms.CharField(widget=forms.HiddenInput, max_length=200)

    def __init__(self, rows: list[VmRow], my_ip: str, *args, picked: set[str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.my_ip = my_ip
        self.choices = [Choice(row, port) for row in rows for port in row.ports]
        for choice in self.choices:
            label = f"{choice.row.name} port {choice.port.number}"
            self.fields[choice.field_name] = forms.BooleanField(
                required=False, initial=picked is None or choice.field_name in picked, label=label,
                widget=forms.CheckboxInput(attrs={"aria-label": label}))
        listed = sorted({p for c in self.choices for p in c.port.allowed_prefixes if p != "*"})
        self.fields["source"].choices = ([(MY_IP, f"My IP ({my_ip})")] + [(p, p) for p in listed]
                                         + [(OTHER, "Another IP or CIDR")])
        self.fields["justification"].required = settings.JIT_REQUIRE_JUSTIFICATION
        longest = min((c.port.max_duration for c in self.choices), default=timedelta(hours=1))
        default = min(timedelta(hours=1), longest)
        self.fields["duration_value"].initial = (int(default.total_seconds() // 3600) if default.total_seconds() % 3600 == 0
                                                 else int(default.total_seconds() // 60))
        self.fields["duration_unit"].initial = "hours" if default.total_seconds() % 3600 == 0 else "minutes"
        self.fields["source"].initial = MY_IP

    def clean_request_key(self) -> str:
        """The form carries a signed one-time key: a double submit finds the request it already made."""
        try:
            return signing.loads(self.cleaned_data["request_key"], salt=KEY_SALT, max_age=KEY_LIFETIME)
        except signing.BadSignature:
            self.data = self.data.copy()
            self.data["request_key"] = new_request_key()  # so that the form shown again can be sent
            raise forms.ValidationError("This form expired or was altered; check it and submit again.") from None

    def port_fields(self):
        return [(c, self[c.field_name]) for c in self.choices]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        chosen = [c for c in self.choices if data.get(c.field_name)]
        if not chosen:
            raise forms.ValidationError("Choose at least one port to open.")
        source = self._source(data)
        minutes = data["duration_value"] * (60 if data["duration_unit"] == "hours" else 1)
        window = timedelta(minutes=minutes)
        if not 5 <= minutes <= 1440:
            self.add_error("duration_value", "Ask for 5 minutes to 24 hours.")
            return data
        problems = [f"{c.row.name} port {c.port.number} allows at most {human(c.port.max_duration)}; ask for less or "
                    "untick it."
                    for c in chosen if window > c.port.max_duration]
        problems += [f"{c.row.name} port {c.port.number} accepts only {', '.join(c.port.allowed_prefixes)} as the "
                     "source (Azure matches it exactly); choose it above or untick the port."
                     for c in chosen if source and c.port.allowed_prefixes != ("*",)
                     and source not in c.port.allowed_prefixes]
        if problems:
            raise forms.ValidationError(problems)
        data.update(chosen=chosen, source_prefix=source, window=window)
        return data

    def _source(self, data) -> str:
        picked = data["source"]
        text = self.my_ip if picked == MY_IP else data.get("other_source", "") if picked == OTHER else picked
        try:
            return _canonical(text)
        except ValueError:
            field = "other_source" if picked == OTHER else "source"
            self.add_error(field, f"'{text[:64]}' is not an IP address or CIDR range." if text
                           else "Give an IP address or CIDR range.")
            return ""
