"""The access-request form: per VM its JIT ports, one source, one window, a justification.

Only what the policy allows can be asked for: `clean()` refuses ports over their maximum time, sources
the policy does not list verbatim, and (for ports open to any source) sources broader than the settings
allow, before Azure is asked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django import forms
from django.conf import settings

from jitportal.durations import human
from jitportal.fields import DurationField, SignedField, SourcePrefixField, parse_prefix, prefix_text, too_broad
from jitportal.gateway import PortRule
from vms.inventory import VmRow

MY_IP, OTHER = "my-ip", "other"


@dataclass(frozen=True)
class Choice:
    row: VmRow
    port: PortRule

    @property
    def field_name(self) -> str:
        return f"port-{self.row.vm_id.lower()}-{self.port.number}"


class RequestAccessForm(forms.Form):
    source = forms.ChoiceField(label="Source", widget=forms.RadioSelect)
    other_source = SourcePrefixField(label="Another IP or CIDR", required=False)
    duration = DurationField(label="For")
    justification = forms.CharField(label="Why do you need access?", max_length=1000, widget=forms.Textarea(
        attrs={"rows": 3}))
    # A signed one-time key: a double submit finds the request it already made.
    request_key = SignedField(salt="requests.key", max_age=12 * 3600,
                              expired="This form expired or was altered; check it and submit again.")

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
        self.fields["duration"].initial = min(timedelta(hours=1), longest)
        self.fields["source"].initial = MY_IP

    @classmethod
    def new_key(cls) -> str:
        return cls.base_fields["request_key"].sign(str(uuid.uuid4()))

    def port_fields(self):
        return [(c, self[c.field_name]) for c in self.choices]

    def clean(self):
        data = super().clean()
        if self.has_error("request_key"):
            self.data = self.data.copy()
            self.data["request_key"] = self.new_key()  # so that the form shown again can be sent
        if self.errors:
            return data
        chosen = [c for c in self.choices if data.get(c.field_name)]
        if not chosen:
            raise forms.ValidationError("Choose at least one port to open.")
        source, window = self._source(data), data["duration"]
        problems = [f"{c.row.name} port {c.port.number} allows at most {human(c.port.max_duration)}; ask for less or "
                    "untick it."
                    for c in chosen if window > c.port.max_duration]
        problems += [f"{c.row.name} port {c.port.number} accepts only {', '.join(c.port.allowed_prefixes)} as the "
                     "source (Azure matches it exactly); choose it above or untick the port."
                     for c in chosen if source and c.port.allowed_prefixes != ("*",)
                     and source not in c.port.allowed_prefixes]
        wide = [f"{c.row.name} port {c.port.number}" for c in chosen
                if source and c.port.allowed_prefixes == ("*",) and too_broad(parse_prefix(source))]
        if wide:
            problems.append(f"{source} is too broad a source for {', '.join(wide)}: at most /"
                            f"{settings.JIT_MAX_SOURCE_PREFIX_V4} for IPv4 and /{settings.JIT_MAX_SOURCE_PREFIX_V6} "
                            "for IPv6, unless the policy lists the range itself.")
        if problems:
            raise forms.ValidationError(problems)
        data.update(chosen=chosen, source_prefix=source, window=window)
        return data

    def _source(self, data) -> str:
        """The source prefix as Azure must receive it: a prefix the policy lists goes verbatim."""
        picked = data["source"]
        if picked == OTHER:
            if data.get("other_source") is None:
                self.add_error("other_source", "Give an IP address or CIDR range.")
                return ""
            return prefix_text(data["other_source"])
        if picked != MY_IP:
            return picked
        try:
            return prefix_text(parse_prefix(self.my_ip))
        except ValueError:
            self.add_error("source", "The portal cannot tell your IP address; choose Another IP or CIDR.")
            return ""
