"""Form fields both the admin's JIT forms and the access-request form use: a duration, source
prefixes, and a signed value the form carries from the page that showed it to the POST that returns it."""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.core import signing

from .durations import human

UNITS = (("hours", "hours"), ("minutes", "minutes"))
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


class WholeNumberField(forms.IntegerField):
    """A whole number in ASCII digits. Django's IntegerField reads with int(), which also takes other scripts' digits
    (Arabic-Indic ٥, full-width ５): a person typing those did not mean a number here, and what the portal shows
    back would not be what they typed."""

    def to_python(self, value: Any) -> int | None:
        if value not in self.empty_values and not str(value).isascii():
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class DurationWidget(forms.MultiWidget):
    def __init__(self, attrs: dict | None = None) -> None:
        # Named sub-widgets post as <name>_value and <name>_unit.
        super().__init__(
            {
                "value": forms.NumberInput(attrs={"min": 1, "class": "duration-value"}),
                "unit": forms.Select(choices=UNITS, attrs={"aria-label": "Unit"}),
            },
            attrs,
        )

    def id_for_label(self, id_: str) -> str:
        return f"{id_}_0" if id_ else ""  # a label names the number; the unit carries its own aria-label

    def decompress(self, value: timedelta | None) -> list:
        if not value:
            return [None, "hours"]
        minutes = int(value.total_seconds() // 60)
        return [minutes // 60, "hours"] if minutes % 60 == 0 else [minutes, "minutes"]


class DurationField(forms.MultiValueField):
    """A number and a unit (hours or minutes) → a timedelta from `shortest` to `longest`."""

    widget = DurationWidget

    def __init__(
        self, *, shortest: timedelta = timedelta(minutes=5), longest: timedelta = timedelta(hours=24), **kwargs: Any
    ) -> None:
        self.shortest, self.longest = shortest, longest
        number = WholeNumberField(
            min_value=1,
            max_value=int(longest.total_seconds() // 60),
            error_messages={
                "min_value": self._range_message(),
                "max_value": self._range_message(),
                "invalid": "Give the time as a whole number.",
            },
        )
        super().__init__((number, forms.ChoiceField(choices=UNITS)), require_all_fields=True, **kwargs)

    def _range_message(self) -> str:
        return f"From {human(self.shortest)} to {human(self.longest)}."

    def compress(self, data_list: list) -> timedelta | None:
        if not data_list or data_list[0] in (None, ""):
            return None
        value, unit = data_list
        return timedelta(hours=value) if unit == "hours" else timedelta(minutes=value)

    def validate(self, value: timedelta | None) -> None:
        super().validate(value)
        if value is not None and not self.shortest <= value <= self.longest:
            raise forms.ValidationError(self._range_message(), code="range")


class ZoneScoped(ValueError):
    """An IPv6 address with a %zone: it names an interface of the machine that typed it."""


def parse_prefix(text: str) -> IPNetwork:
    """One IP address or CIDR range → its network (a host bits set in a range are dropped, as Azure does)."""
    network = ipaddress.ip_network(text.strip(), strict=False)
    if isinstance(network, ipaddress.IPv6Network) and network.network_address.scope_id:
        # An NSG rule cannot mean anything by another machine's interface.
        raise ZoneScoped(text)
    return network


def too_broad(network: IPNetwork) -> bool:
    """Wider than the settings allow a requester to open a port to (JIT_MAX_SOURCE_PREFIX_V4/_V6)."""
    if isinstance(network, ipaddress.IPv6Network) and network.overlaps(IPV4_MAPPED):
        # IPv4 addresses written as IPv6 (::ffff:a.b.c.d): judge the IPv4 range they stand for.
        return max(network.prefixlen - 96, 0) < settings.JIT_MAX_SOURCE_PREFIX_V4
    limit = settings.JIT_MAX_SOURCE_PREFIX_V4 if network.version == 4 else settings.JIT_MAX_SOURCE_PREFIX_V6
    return network.prefixlen < limit


def prefix_text(network: IPNetwork, typed: str = "") -> str:
    """How Azure writes a prefix: a bare address for a single host typed without a length."""
    return str(network.network_address) if network.num_addresses == 1 and "/" not in typed else str(network)


class SourcePrefixField(forms.CharField):
    """An IP address or CIDR range → an `ipaddress` network."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 64)
        super().__init__(**kwargs)

    def clean(self, value: Any) -> IPNetwork | None:
        text = super().clean(value)  # the text's own checks (required, length) first
        if not text:
            return None
        try:
            return parse_prefix(text)
        except ZoneScoped:
            raise forms.ValidationError(
                f"'{text[:64]}' names a local network interface (%zone); give the address without it.", code="zone"
            ) from None
        except ValueError:
            raise forms.ValidationError(f"'{text[:64]}' is not an IP address or CIDR range.", code="invalid") from None


class SourcePrefixListField(forms.CharField):
    """IPs or CIDRs separated by commas or spaces → a tuple of networks, each read as SourcePrefixField does."""

    def clean(self, value: Any) -> tuple[IPNetwork, ...]:
        items = [item for item in re.split(r"[\s,;]+", (super().clean(value) or "").strip()) if item]
        networks, errors = [], []
        for item in items:
            try:
                networks.append(SourcePrefixField().clean(item))
            except forms.ValidationError as error:
                errors.append(error)
        if errors:
            raise forms.ValidationError(errors)
        return tuple(networks)


class SignedField(forms.CharField):
    """A value the server signed into the page; it comes back unchanged and recent, or not at all."""

    widget = forms.HiddenInput

    def __init__(self, *, salt: str, max_age: int, expired: str, **kwargs: Any) -> None:
        self.salt, self.max_age, self.expired = salt, max_age, expired
        kwargs.setdefault("max_length", 100_000)
        super().__init__(**kwargs)

    def sign(self, value: Any) -> str:
        return signing.dumps(value, salt=self.salt)

    def to_python(self, value: Any) -> Any:
        try:
            return signing.loads(super().to_python(value) or "", salt=self.salt, max_age=self.max_age)
        except signing.BadSignature:
            raise forms.ValidationError(self.expired, code="expired") from None
