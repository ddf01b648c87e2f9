"""The access-request form: per VM its JIT ports, one source and one window for all of them with a per-port
override (as the Azure portal offers a source and a time per port), a justification.

Only what the policy allows can be asked for: `clean()` refuses ports over their maximum time, sources
the policy does not list verbatim, and (for ports open to any source) sources broader than the settings
allow, before Azure is asked.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from django import forms
from django.conf import settings
from django.core import validators

from core import gateway
from core.durations import human
from core.fields import (
    DurationField,
    SignedField,
    SourcePrefixField,
    WholeNumberField,
    parse_prefix,
    prefix_text,
    too_broad,
)
from core.gateway import PortRule
from vms.inventory import VmRow

from .models import Approval, ApprovalRule
from .plan import Choice, Planned

MY_IP, OTHER = "my-ip", "other"
JUSTIFICATION_LIMIT = 1000
RUNNING = "running"


USUAL_PORT = {"linux": 22, "windows": 3389}  # SSH and RDP: what a person connects with first


def usual_port(row: VmRow) -> PortRule | None:
    """The port ticked at first: SSH on Linux, RDP on Windows, else the policy's first port."""
    usual = USUAL_PORT.get(row.os_type.lower())
    return next((p for p in row.ports if p.number == usual), row.ports[0] if row.ports else None)


def _too_long(planned: list[Planned]) -> list[str]:
    """One message per maximum and time asked that exceeds it, naming every port it concerns."""
    over: dict[tuple[timedelta, timedelta], list[str]] = {}
    for p in planned:
        if p.window > p.choice.port.max_duration:
            over.setdefault((p.choice.port.max_duration, p.window), []).append(p.choice.label)
    return [
        f"{' and '.join(ports)} {'allows' if len(ports) == 1 else 'allow'} at most {human(longest)}, not "
        f"{human(window)}: ask for less or untick {'it' if len(ports) == 1 else 'them'}."
        for (longest, window), ports in sorted(over.items())
    ]


def own_time(choice: Choice) -> str:
    return f"{choice.field_name}-for"


def own_source(choice: Choice) -> str:
    return f"{choice.field_name}-from"


class BreakGlass(forms.Form):
    """Opening at once despite an approval rule: a reason is mandatory, and everyone who approves or audits
    is told."""

    break_glass = forms.BooleanField(label="Break glass: open now without waiting for approval", required=False)
    break_glass_reason = forms.CharField(
        label="Why can this not wait?", required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean_break_glass_reason(self) -> str:
        reason = self.cleaned_data.get("break_glass_reason", "").strip()
        if self.cleaned_data.get("break_glass") and not reason:
            raise forms.ValidationError("Breaking glass needs a reason: say why this cannot wait for an approver.")
        return reason if self.cleaned_data.get("break_glass") else ""


class RequestAccessForm(BreakGlass):
    source = forms.ChoiceField(label="Source", widget=forms.RadioSelect)
    other_source = SourcePrefixField(label="Another IP or CIDR", required=False)
    duration = DurationField(
        label="For",
        error_messages={
            "required": "Say for how long, in minutes or hours.",
            "incomplete": "Say for how long, in minutes or hours.",
        },
    )
    justification = forms.CharField(
        label="Why do you need access?",
        max_length=JUSTIFICATION_LIMIT,
        widget=forms.Textarea(attrs={"rows": 3, "aria-describedby": "justification-help justification-count"}),
        error_messages={
            "required": "Say why you need access.",
            "max_length": "Keep it to %(limit_value)d characters; it has %(show_value)d.",
        },
    )
    # A signed one-time key: a double submit finds the request it already made.
    request_key = SignedField(
        salt="requests.key", max_age=12 * 3600, expired="This form expired or was altered; check it and submit again."
    )

    def __init__(self, rows: list[VmRow], my_ip: str, *args, picked: set[str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.my_ip = my_ip
        self.choices = [Choice(row, port) for row in rows for port in row.ports]
        picked = set(picked or ())
        # A VM none of whose ports is picked (from the person's last request) starts with its usual port.
        picked |= {
            Choice(row, port).field_name
            for row in rows
            if (port := usual_port(row)) and not any(Choice(row, p).field_name in picked for p in row.ports)
        }
        for choice in self.choices:
            self.fields[choice.field_name] = forms.BooleanField(
                required=False,
                initial=choice.field_name in picked,
                label=choice.label,
                widget=forms.CheckboxInput(attrs={"aria-label": choice.label}),
            )
            # Blank: the time and source for all ports below.
            self.fields[own_time(choice)] = DurationField(label=f"Own time for {choice.label}", required=False)
            self.fields[own_time(choice)].widget.widgets[1].attrs["aria-label"] = f"Unit for {choice.label}"
            self.fields[own_source(choice)] = SourcePrefixField(label=f"Own source for {choice.label}", required=False)
        listed = sorted({p for c in self.choices for p in c.port.allowed_prefixes if p != "*"})
        self.fields["source"].choices = (
            [(MY_IP, f"My IP ({my_ip})")] + [(p, p) for p in listed] + [(OTHER, "Another IP or CIDR")]
        )
        self.fields["justification"].required = settings.JIT_REQUIRE_JUSTIFICATION
        longest = min((c.port.max_duration for c in self.choices), default=timedelta(hours=1))
        self.fields["duration"].initial = min(timedelta(hours=1), longest)
        self.fields["source"].initial = MY_IP
        # The box is named by its radio's words (the template's span), so they are shown once; last, as this
        # binds the field and caches its choices and initial value.
        other = self["source"].subwidgets[-1]
        self.fields["other_source"].widget.attrs["aria-labelledby"] = f"{other.id_for_label}-words"

    @classmethod
    def new_key(cls) -> str:
        return cls.base_fields["request_key"].sign(str(uuid.uuid4()))

    def port_fields(self):
        return [(c, self[c.field_name], self[own_time(c)], self[own_source(c)]) for c in self.choices]

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
        planned = [
            Planned(
                c,
                prefix_text(data[own_source(c)]) if data.get(own_source(c)) is not None else source,
                data.get(own_time(c)) or window,
            )
            for c in chosen
        ]
        problems = _too_long(planned)
        problems += [
            f"{p.choice.label} accepts only {', '.join(p.choice.port.allowed_prefixes)} as the source (Azure "
            "matches it exactly); choose it above or untick the port."
            for p in planned
            if p.source and p.choice.port.allowed_prefixes != ("*",) and p.source not in p.choice.port.allowed_prefixes
        ]
        wide: dict[str, list[str]] = {}
        for p in planned:
            if p.source and p.choice.port.allowed_prefixes == ("*",) and too_broad(parse_prefix(p.source)):
                wide.setdefault(p.source, []).append(p.choice.label)
        problems += [
            f"{broad} is too broad a source for {', '.join(ports)}: at most /{settings.JIT_MAX_SOURCE_PREFIX_V4} "
            f"for IPv4 and /{settings.JIT_MAX_SOURCE_PREFIX_V6} for IPv6, unless the policy lists the range "
            "itself."
            for broad, ports in wide.items()
        ]
        if problems:
            raise forms.ValidationError(problems)
        data.update(chosen=chosen, planned=planned, source_prefix=source, window=window)
        return data

    def _source(self, data) -> str:
        """The source prefix as Azure must receive it: a prefix the policy lists goes verbatim."""
        picked = data["source"]
        if picked != OTHER and data.get("other_source") is not None:
            # Someone who typed an address meant it; never drop it silently for another choice.
            self.add_error(
                "other_source",
                f"You typed {prefix_text(data['other_source'])} here but chose "
                f"“{dict(self.fields['source'].choices)[picked]}” above: choose “Another IP or CIDR” "
                "to use it, or clear this box.",
            )
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


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=((Approval.Decision.APPROVE, "Approve"), (Approval.Decision.DENY, "Deny")), widget=forms.HiddenInput
    )
    comment = forms.CharField(
        label="Comment", required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean(self):
        data = super().clean()
        if data.get("decision") == Approval.Decision.DENY and not data.get("comment", "").strip():
            self.add_error("comment", "Say why you deny it: the requester reads this.")
        return data


class ExtendForm(forms.Form):
    duration = DurationField(label="Open for (from now)", error_messages={"required": "Say for how long."})
    request_key = SignedField(
        salt="requests.key", max_age=12 * 3600, expired="This form expired or was altered; check it and submit again."
    )

    def __init__(self, longest: timedelta, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["duration"] = DurationField(
            label="Open for (from now)",
            longest=longest,
            initial=longest,
            error_messages={"required": "Say for how long."},
        )
        self.fields["request_key"].initial = RequestAccessForm.new_key()


class RuleForm(forms.ModelForm):
    """A rule's scope is picked by name among the subscriptions and resource groups Azure shows the person
    (`places`: subscription id → (name, its resource groups)), so that no typed id or name can miss."""

    # Longer than the model's column: what was typed is judged as ports (at most 20), not as characters.
    ports = forms.CharField(label="Ports (e.g. 22, 3389)", required=False, max_length=1000)
    save_anyway = forms.BooleanField(label="Save despite the problems above (recorded in the trail)", required=False)

    class Meta:
        model = ApprovalRule
        fields = [
            "name",
            "subscription_id",
            "resource_group",
            "condition",
            "longer_than_minutes",
            "ports",
            "approvals_needed",
            "approvers",
            "pending_minutes",
            "extension_minutes",
        ]
        labels = {
            "subscription_id": "Subscription",
            "resource_group": "Resource group",
            "longer_than_minutes": "Longer than (minutes)",
            "ports": "Ports (e.g. 22, 3389)",
            "approvals_needed": "Approvals needed (1–3)",
            "approvers": "Approvers, one user principal name a line (blank: everyone holding JIT.Approver)",
            "pending_minutes": "A request waits at most (minutes)",
            "extension_minutes": "Extensions up to this many minutes need no new approval (0: always ask)",
        }
        field_classes = dict.fromkeys(
            ("approvals_needed", "pending_minutes", "extension_minutes", "longer_than_minutes"), WholeNumberField
        )
        widgets = {"approvers": forms.Textarea(attrs={"rows": 3}), "condition": forms.RadioSelect}

    def __init__(self, *args, places: dict[str, tuple[str, list[str]]] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.places = places or {}
        by_name = sorted(self.places.items(), key=lambda p: p[1][0].lower())
        self.fields["subscription_id"].widget = forms.Select(
            choices=[("", "Every subscription")] + [(sub, name) for sub, (name, _) in by_name]
        )
        self.fields["resource_group"].widget = forms.Select(
            choices=[("", "The whole subscription")]
            + [(name, [(rg, rg) for rg in groups]) for _, (name, groups) in by_name]
        )
        for name, low, high in (
            ("approvals_needed", 1, 3),
            ("pending_minutes", 5, 7 * 24 * 60),
            ("extension_minutes", 0, 24 * 60),
            ("longer_than_minutes", 0, 24 * 60),
        ):
            field = self.fields[name]
            field.min_value, field.max_value = low, high
            field.validators = [
                v
                for v in field.validators
                if not isinstance(v, validators.MinValueValidator | validators.MaxValueValidator)
            ]
            field.validators += [
                validators.MinValueValidator(low, f"From {low} to {high}."),
                validators.MaxValueValidator(high, f"From {low} to {high}."),
            ]
            field.widget.attrs.update(min=low, max=high)

    def clean_subscription_id(self) -> str:
        value = self.cleaned_data["subscription_id"].strip().lower()
        if value and not gateway.SUBSCRIPTION_ID.match(value):
            raise forms.ValidationError("A subscription id looks like 00000000-0000-0000-0000-000000000000.")
        if value and value not in self.places:
            raise forms.ValidationError("Pick a subscription from the list: Azure does not show you that one.")
        return value

    def clean_resource_group(self) -> str:
        value = self.cleaned_data["resource_group"].strip()
        if value and not gateway.RESOURCE_GROUP.match(value):
            raise forms.ValidationError("Not a resource group name (letters, digits, - _ . ( ), at most 90).")
        return value

    def clean_ports(self) -> str:
        words = [w for w in re.split(r"[\s,;]+", self.cleaned_data["ports"]) if w]
        if any(not re.fullmatch(r"[0-9]{1,5}", w) or int(w) > 65535 for w in words):
            raise forms.ValidationError("Ports are numbers from 0 to 65535, separated by commas.")
        ports = list(dict.fromkeys(str(int(w)) for w in words))
        if len(ports) > 20:
            raise forms.ValidationError(f"At most 20 ports, not {len(ports)}.")
        return ", ".join(ports)

    def clean_approvers(self) -> str:
        names = [n.strip() for n in self.cleaned_data["approvers"].splitlines() if n.strip()]
        bad = [n for n in names if not re.fullmatch(r"[^@\s]{1,64}@[^@\s]{1,190}", n)]
        if bad:
            raise forms.ValidationError(f"Not a user principal name: {bad[0][:80]}.")
        if len(names) > 50:
            raise forms.ValidationError("At most 50 approvers by name; give the role JIT.Approver instead.")
        return "\n".join(dict.fromkeys(n.lower() for n in names))

    def clean(self):
        data = super().clean()
        sub, group = data.get("subscription_id"), data.get("resource_group")
        if group and not sub and "subscription_id" not in self.errors:
            self.add_error("resource_group", "A resource group needs its subscription.")
        elif group and sub in self.places:
            name, groups = self.places[sub]
            found = next((g for g in groups if g.lower() == group.lower()), None)
            if found is None:
                self.add_error("resource_group", f"Azure shows you no resource group “{group}” in {name}.")
            else:
                data["resource_group"] = found
        if data.get("condition") == ApprovalRule.LONGER and data.get("longer_than_minutes") is None:
            self.add_error("longer_than_minutes", "Say after how many minutes a request needs approval.")
        if data.get("condition") == ApprovalRule.PORTS and not data.get("ports"):
            self.add_error("ports", "Say which ports need approval.")
        return data
