"""The filters of the VM tabs. They live in the URL; an unknown value is dropped with a message."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join

from core.fields import DurationField, SignedField, SourcePrefixListField, WholeNumberField, prefix_text
from core.gateway import PortRule

from .inventory import CONFIGURED, NOT_CONFIGURED, UNSUPPORTED, Inventory, Selection, VmRow
from .snapshots import VmSnapshot
from .verdicts import STATES

TABS = ((CONFIGURED, "Configured"), (NOT_CONFIGURED, "Not configured"), (UNSUPPORTED, "Unsupported"))
POWER_STATES = ("running", "stopped", "deallocated", "deallocating", "starting", "stopping", "unknown")


class QuickSelect(forms.Select):
    """A <select> written in Python: Django's widget templates cost a fraction of a millisecond per option, and
    a fleet over 100 subscriptions has 100 of them on every page of the tabs."""

    def render(self, name, value, attrs=None, renderer=None) -> str:
        chosen = set(self.format_value(value))
        options = format_html_join(
            "\n",
            '<option value="{}"{}>{}</option>',
            ((key, " selected" if str(key) in chosen else "", label) for key, label in self.choices),
        )
        return format_html(
            '<select name="{}"{}>\n{}\n</select>', name, flatatt(self.build_attrs(self.attrs, attrs)), options
        )


class FleetFilterForm(forms.Form):
    tab = forms.ChoiceField(choices=TABS, required=False)
    q = forms.CharField(label="Search by name", required=False, max_length=100)
    subscription = forms.ChoiceField(required=False, widget=QuickSelect)
    resource_group = forms.ChoiceField(label="Resource group", required=False, widget=QuickSelect)
    region = forms.ChoiceField(required=False, widget=QuickSelect)
    os = forms.ChoiceField(label="OS", required=False, widget=QuickSelect)
    power = forms.ChoiceField(label="Power state", required=False, widget=QuickSelect)
    health = forms.ChoiceField(label="JIT health", required=False, widget=QuickSelect, choices=[("", "All"), *STATES])
    per_page = forms.TypedChoiceField(
        label="Per page",
        required=False,
        coerce=int,
        empty_value=25,
        choices=[(n, n) for n in (10, 25, 50, 100)],
        widget=QuickSelect,
    )

    def __init__(self, data, inventory: Inventory) -> None:
        data = data.copy()
        data.setdefault("per_page", "25")  # so that the select shows the size the table uses
        super().__init__(data)
        for name, choices in inventory.choices().items():
            self.fields[name].choices = choices
        self.fields["power"].choices = [("", "All")] + [(p, p.capitalize()) for p in POWER_STATES]

    def selected(self) -> dict[str, str]:
        """The filters that are valid; invalid ones are left out (their errors say why)."""
        self.is_valid()
        return {k: v for k, v in self.cleaned_data.items() if v}

    def page_size(self) -> int:
        return self.selected().get("per_page", 25)

    def apply(self, inventory: Inventory) -> Selection:
        """The inventory's rows these filters keep, per tab (made once per inventory and filters)."""
        chosen = {k: v for k, v in self.selected().items() if k not in ("tab", "per_page")}
        q = chosen.get("q", "").lower()

        def keep(r: VmRow) -> bool:
            return (
                (not q or q in r.name.lower())
                and chosen.get("subscription", r.subscription_id) == r.subscription_id
                and chosen.get("resource_group", r.resource_group.lower()) == r.resource_group.lower()
                and chosen.get("region", r.location) == r.location
                and chosen.get("os", r.os_type) == r.os_type
                and chosen.get("power", r.power_state) == r.power_state
                and chosen.get("health", r.health_state) == r.health_state
            )

        return inventory.select(tuple(sorted({**chosen, "q": q}.items())) if chosen else (), keep)


class PortForm(forms.Form):
    """One port rule. `clean()` puts the domain value, a PortRule, in cleaned_data["rule"]."""

    number = WholeNumberField(
        label="Port",
        min_value=1,
        max_value=65535,
        error_messages={"min_value": "A port is between 1 and 65535.", "max_value": "A port is between 1 and 65535."},
    )
    protocol = forms.ChoiceField(choices=[("*", "Any"), ("TCP", "TCP"), ("UDP", "UDP")], initial="*")
    source = forms.ChoiceField(
        label="Allowed source IPs",
        initial="per-request",
        choices=[("per-request", "Per request"), ("list", "These IPs/CIDRs")],
    )
    addresses = SourcePrefixListField(
        label="IPs or CIDRs",
        required=False,
        max_length=2000,
        help_text="Separated by commas or spaces, e.g. 10.0.0.0/24, 203.0.113.7",
    )
    max = DurationField(label="Maximum request time", initial=timedelta(hours=3))

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if data["source"] == "per-request":
            prefixes: tuple[str, ...] = ("*",)
        elif not data["addresses"]:
            self.add_error("addresses", "List at least one IP or CIDR, or choose Per request.")
            return data
        else:
            prefixes = tuple(dict.fromkeys(prefix_text(n) for n in data["addresses"]))
        data["rule"] = PortRule(data["number"], data["protocol"], prefixes, data["max"])
        return data


class BasePortFormSet(forms.BaseFormSet):
    def add_fields(self, form, index) -> None:
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].label = "Remove"

    def clean(self) -> None:
        # A port listed twice is said with the rows' own errors, not after they are fixed: rows whose other
        # fields are wrong still have their number.
        kept = [
            f.cleaned_data for f in self.forms if getattr(f, "cleaned_data", None) and not f.cleaned_data.get("DELETE")
        ]
        numbers = [data["number"] for data in kept if "number" in data]
        duplicates = sorted({n for n in numbers if numbers.count(n) > 1})
        if duplicates:
            raise forms.ValidationError(f"Port {', '.join(map(str, duplicates))} is listed more than once.")
        if any(self.errors):
            return
        rules = [data["rule"] for data in kept if "rule" in data]
        if not rules:
            raise forms.ValidationError("Keep or add at least one port: JIT needs a port to protect.")
        self.rules = tuple(sorted(rules, key=lambda r: r.number))


PortFormSet = forms.formset_factory(
    PortForm, formset=BasePortFormSet, extra=2, can_delete=True, max_num=50, validate_max=True
)


def port_initial(rules) -> list[dict]:
    return [
        {
            "number": r.number,
            "protocol": r.protocol,
            "source": "per-request" if r.allowed_prefixes == ("*",) else "list",
            "addresses": "" if r.allowed_prefixes == ("*",) else ", ".join(r.allowed_prefixes),
            "max": r.max_duration,
        }
        for r in rules
    ]


class SnapshotForm(forms.Form):
    """What the group's policies said when the form was shown, signed, so a save can tell what changed since."""

    # The salt names the snapshot's shape: a form opened before it changed reads as expired, never misread.
    opened = SignedField(
        salt="vms.jit-form.snapshot-data",
        max_age=3600,
        expired="This form was open too long or was altered; it now shows Azure's policies "
        "as they are. Check and save again.",
    )

    @classmethod
    def token(cls, snapshots: dict[str, dict[str, VmSnapshot]]) -> str:
        return cls.base_fields["opened"].sign(snapshots)

    def snapshots(self) -> dict[str, dict[str, VmSnapshot]] | None:
        return self.cleaned_data["opened"] if self.is_valid() else None
