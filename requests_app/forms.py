"""The access-request form: per VM its JIT ports, one source and one window for all of them, a justification.

Only what the policy allows can be asked for: `clean()` refuses ports over their maximum time, sources
the policy does not list verbatim, and (for ports open to any source) sources broader than the settings
allow, before Azure is asked.
"""

from __future__ import annotations

import re
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
JUSTIFICATION_LIMIT = 1000
RUNNING = "running"


@dataclass(frozen=True)
class Choice:
    row: VmRow
    port: PortRule

    @property
    def field_name(self) -> str:
        return f"port-{self.row.vm_id.lower()}-{self.port.number}"


USUAL_PORT = {"linux": 22, "windows": 3389}  # SSH and RDP: what a person connects with first


def _usual_port(row: VmRow) -> PortRule | None:
    """The port ticked at first: SSH on Linux, RDP on Windows, else the policy's first port."""
    usual = USUAL_PORT.get(row.os_type.lower())
    return next((p for p in row.ports if p.number == usual), row.ports[0] if row.ports else None)


def _too_long(chosen: list[Choice], window: timedelta) -> list[str]:
    """One message per maximum that `window` exceeds, naming every port it concerns."""
    over: dict[timedelta, list[str]] = {}
    for c in chosen:
        if window > c.port.max_duration:
            over.setdefault(c.port.max_duration, []).append(f"{c.row.name} port {c.port.number}")
    return [f"{' and '.join(ports)} {'allows' if len(ports) == 1 else 'allow'} at most {human(longest)}, not "
            f"{human(window)}: ask for less or untick {'it' if len(ports) == 1 else 'them'}."
            for longest, ports in sorted(over.items())]


class RequestAccessForm(forms.Form):
    source = forms.ChoiceField(label="Source", widget=forms.RadioSelect)
    other_source = SourcePrefixField(label="Another IP or CIDR", required=False)
    duration = DurationField(label="For", error_messages={
        "required": "Say for how long, in minutes or hours.", "incomplete": "Say for how long, in minutes or hours."})
    justification = forms.CharField(
        label="Why do you need access?", max_length=JUSTIFICATION_LIMIT,
        widget=forms.Textarea(attrs={"rows": 3, "aria-describedby": "justification-help justification-count"}),
        error_messages={"required": "Say why you need access.",
                        "max_length": "Keep it to %(limit_value)d characters; it has %(show_value)d."})
    # A signed one-time key: a double submit finds the request it already made.
    request_key = SignedField(salt="requests.key", max_age=12 * 3600,
                              expired="This form expired or was altered; check it and submit again.")

    def __init__(self, rows: list[VmRow], my_ip: str, *args, picked: set[str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.my_ip = my_ip
        self.choices = [Choice(row, port) for row in rows for port in row.ports]
        picked = set(picked or ())
        # A VM none of whose ports is picked (from the person's last request) starts with its usual port.
        picked |= {Choice(row, port).field_name for row in rows if (port := _usual_port(row))
                   and not any(Choice(row, p).field_name in picked for p in row.ports)}
        for choice in self.choices:
            label = f"{choice.row.name} port {choice.port.number}"
            self.fields[choice.field_name] = forms.BooleanField(
                required=False, initial=choice.field_name in picked, label=label,
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

    @property
    def not_running(self) -> list[VmRow]:
        """Selected VMs that are stopped or deallocated: open ports will not reach them until they run."""
        return list({c.row.vm_id: c.row for c in self.choices if c.row.power_state != RUNNING}.values())

    def clean_justification(self) -> str:
        text = self.cleaned_data["justification"]
        pattern = settings.JIT_JUSTIFICATION_PATTERN
        if text and pattern and not re.search(pattern, text):
            hint = settings.JIT_JUSTIFICATION_HINT or f"it must match {pattern}"
            raise forms.ValidationError(f"This justification does not have the expected form: {hint}.")
        return text

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
        problems = _too_long(chosen, window)
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
        if picked != OTHER and data.get("other_source") is not None:
            # Someone who typed an address meant it; never drop it silently for another choice.
            self.add_error("other_source", f"You typed {prefix_text(data['other_source'])} here but chose "
                           f"“{dict(self.fields['source'].choices)[picked]}” above: choose “Another IP or CIDR” "
                           "to use it, or clear this box.")
            return ""
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
