"""Windows and sources as the forms read them (core/fields.py): a duration within its bounds, a source prefix as Azure
writes it, and the settings' limit on how broad a source a requester may open a port to."""

from __future__ import annotations

import ipaddress
from datetime import timedelta

import pytest
from django import forms

from core.fields import (
    DurationField,
    DurationWidget,
    SignedField,
    SourcePrefixField,
    SourcePrefixListField,
    ZoneScoped,
    parse_prefix,
    prefix_text,
    too_broad,
)

net = ipaddress.ip_network


def _Window(*args, **kwargs) -> forms.Form:
    """A form with a window of 30 min to 3 h, its field made in the test that uses it."""

    class Window(forms.Form):
        window = DurationField(shortest=timedelta(minutes=30), longest=timedelta(hours=3))

    return Window(*args, **kwargs)


@pytest.mark.parametrize(
    "value, unit, expected",
    [
        ("30", "minutes", timedelta(minutes=30)),
        ("3", "hours", timedelta(hours=3)),
        ("180", "minutes", timedelta(hours=3)),
    ],
)
def test_a_window_at_its_bounds_is_taken(value, unit, expected):
    form = _Window({"window_value": value, "window_unit": unit})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["window"] == expected


@pytest.mark.parametrize("value, unit", [("29", "minutes"), ("181", "minutes"), ("4", "hours"), ("0", "hours")])
def test_a_window_past_its_bounds_is_refused_in_its_own_units(value, unit):
    form = _Window({"window_value": value, "window_unit": unit})
    assert not form.is_valid() and form.errors["window"] == ["From 30 min to 3 h."]
    assert form.errors.as_data()["window"][0].code in ("range", "min_value", "max_value")


def test_the_number_is_bounded_by_the_longest_window_in_minutes():
    number = DurationField(longest=timedelta(hours=3)).fields[0]
    assert (number.min_value, number.max_value) == (1, 180)
    assert number.error_messages["invalid"] == "Give the time as a whole number."


def test_a_window_left_blank_is_none_when_not_required():
    field = DurationField(required=False)
    assert field.clean(["", "hours"]) is None and field.clean([None, "minutes"]) is None
    assert field.compress([]) is None
    with pytest.raises(forms.ValidationError, match="This field is required"):
        DurationField().clean(["", "hours"])


def test_a_window_is_shown_back_in_hours_when_whole_else_in_minutes():
    widget = DurationWidget()
    assert widget.decompress(timedelta(hours=2)) == [2, "hours"]
    assert widget.decompress(timedelta(minutes=90)) == [90, "minutes"]
    assert widget.decompress(timedelta(seconds=150)) == [2, "minutes"]
    assert widget.decompress(None) == [None, "hours"]
    assert widget.id_for_label("id_window") == "id_window_0" and widget.id_for_label("") == ""
    assert 'value="2"' in _Window(initial={"window": timedelta(hours=2)}).as_p()  # not "2.0"


def test_a_window_short_of_its_shortest_says_so_in_its_own_units():
    form = _Window({"window_value": "29", "window_unit": "minutes"})
    assert form.errors.as_data()["window"][0].code == "range"


def test_the_window_posts_as_a_number_and_a_unit():
    assert 'data-x="y"' in DurationWidget(attrs={"data-x": "y"}).render("w", None)
    html = _Window().as_p()
    assert 'name="window_value"' in html and 'name="window_unit"' in html and 'min="1"' in html
    assert 'aria-label="Unit"' in html and 'class="duration-value"' in html and '<label for="id_window_0">' in html
    assert (
        '<option value="hours" selected>hours</option>' in html and '<option value="minutes">minutes</option>' in html
    )


@pytest.mark.parametrize(
    "typed, network",
    [
        ("203.0.113.7", "203.0.113.7/32"),
        (" 10.1.2.3/24 ", "10.1.2.0/24"),
        ("2001:db8::1", "2001:db8::1/128"),
    ],
)
def test_a_prefix_is_read_with_host_bits_dropped_as_azure_does(typed, network):
    assert parse_prefix(typed) == net(network)


def test_an_address_naming_a_local_interface_is_refused():
    with pytest.raises(ZoneScoped):
        parse_prefix("fe80::1%eth0")
    with pytest.raises(forms.ValidationError) as refused:
        SourcePrefixField().clean("fe80::1%eth0")
    assert refused.value.messages == [
        "'fe80::1%eth0' names a local network interface (%zone); give the address without it."
    ]
    assert refused.value.code == "zone"


def test_an_address_that_is_not_one_is_refused_quoting_at_most_64_characters():
    with pytest.raises(forms.ValidationError) as refused:
        SourcePrefixField().clean("x" * 60 + "/")
    assert refused.value.messages == [f"'{'x' * 60}/' is not an IP address or CIDR range."]
    assert refused.value.code == "invalid"
    with pytest.raises(forms.ValidationError, match="at most 64 characters"):
        SourcePrefixField().clean("1" * 65)
    assert SourcePrefixField(max_length=100).max_length == 100
    assert SourcePrefixField(required=False).clean("") is None


@pytest.mark.parametrize(
    "network, broad",
    [
        ("10.0.0.0/24", False),
        ("10.0.0.0/23", True),
        ("203.0.113.7/32", False),
        ("0.0.0.0/0", True),
        ("2001:db8::/64", False),
        ("2001:db8::/63", True),
        ("::/0", True),
        # IPv4 written as IPv6 is judged as the IPv4 range it stands for, not as a (narrow) IPv6 one.
        ("::ffff:10.0.0.0/120", False),
        ("::ffff:10.0.0.0/119", True),
        ("::ffff:0:0/96", True),
        ("::/64", True),  # holds every IPv4-mapped address: /0 of IPv4
    ],
)
def test_a_source_wider_than_the_settings_allow_is_too_broad(network, broad):
    assert too_broad(net(network)) is broad


def test_the_limits_come_from_the_settings(settings):
    settings.JIT_MAX_SOURCE_PREFIX_V4, settings.JIT_MAX_SOURCE_PREFIX_V6 = 16, 48
    assert not too_broad(net("10.0.0.0/16")) and too_broad(net("10.0.0.0/15"))
    assert not too_broad(net("2001:db8::/48")) and too_broad(net("2001:db8::/47"))
    assert not too_broad(net("::ffff:10.0.0.0/112")) and too_broad(net("::ffff:10.0.0.0/111"))
    settings.JIT_MAX_SOURCE_PREFIX_V4 = 1  # the loosest limit still refuses a range holding all of IPv4
    assert too_broad(net("0.0.0.0/0")) and too_broad(net("::/64")) and not too_broad(net("::ffff:0:0/97"))


@pytest.mark.parametrize(
    "network, typed, text",
    [
        ("203.0.113.7/32", "203.0.113.7", "203.0.113.7"),
        ("203.0.113.7/32", "203.0.113.7/32", "203.0.113.7/32"),  # a length typed is kept
        ("10.0.0.0/24", "10.0.0.0/24", "10.0.0.0/24"),
        ("10.0.0.0/24", "", "10.0.0.0/24"),
        ("2001:db8::1/128", "", "2001:db8::1"),
    ],
)
def test_a_prefix_is_written_as_azure_writes_it(network, typed, text):
    assert prefix_text(net(network), typed) == text


def test_a_list_of_sources_is_read_item_by_item_and_every_bad_one_named():
    assert SourcePrefixListField(required=False).clean("") == ()
    assert SourcePrefixListField().clean(" 10.0.0.1 ,, 10.0.1.0/24\n") == (net("10.0.0.1/32"), net("10.0.1.0/24"))
    with pytest.raises(forms.ValidationError) as refused:
        SourcePrefixListField().clean("10.0.0.1, nope; 300.1.1.1")
    assert refused.value.messages == [
        "'nope' is not an IP address or CIDR range.",
        "'300.1.1.1' is not an IP address or CIDR range.",
    ]


def test_a_signed_value_expires():
    field = SignedField(salt="test", max_age=-1, expired="too late")
    with pytest.raises(forms.ValidationError, match="too late") as refused:
        field.clean(field.sign("x"))
    assert refused.value.code == "expired"
    with pytest.raises(forms.ValidationError, match="too late"):
        field.clean("")


def test_a_signed_value_is_hidden_and_may_be_long():
    field = SignedField(salt="test", max_age=60, expired="expired")
    assert isinstance(field.widget, forms.HiddenInput) and field.max_length == 100_000
    assert SignedField(salt="test", max_age=60, expired="expired", max_length=10).max_length == 10


@pytest.mark.parametrize("digits", ["٥", "５", "1٥"])
def test_a_number_is_written_in_ascii_digits(digits):
    form = _Window({"window_value": digits, "window_unit": "hours"})
    assert not form.is_valid() and form.errors["window"] == ["Give the time as a whole number."]
    assert form.errors.as_data()["window"][0].code == "invalid"
