"""The shared form fields, and the admin's port form and the request form that use them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django import forms

from core.fields import DurationField, SignedField, SourcePrefixField, SourcePrefixListField
from requests_app.forms import ExtendForm, RequestAccessForm, RuleForm
from tests.unit.builders import SUB, port, vm_id
from vms.forms import PortForm, PortFormSet
from vms.inventory import CONFIGURED, VmRow


class _Duration(forms.Form):
    window = DurationField()


@pytest.mark.parametrize(
    "value, unit, expected",
    [
        ("3", "hours", timedelta(hours=3)),
        ("90", "minutes", timedelta(minutes=90)),
        ("24", "hours", timedelta(hours=24)),
    ],
)
def test_a_duration_is_a_number_and_a_unit(value, unit, expected):
    form = _Duration({"window_value": value, "window_unit": unit})
    assert form.is_valid() and form.cleaned_data["window"] == expected


@pytest.mark.parametrize(
    "value, unit, error",
    [
        ("25", "hours", "From 5 min to 24 h."),
        ("4", "minutes", "From 5 min to 24 h."),
        ("0", "hours", "From 5 min to 24 h."),
        ("x", "hours", "Give the time as a whole number."),
        ("3", "days", "Select a valid choice. days is not one of the available choices."),
    ],
)
def test_a_duration_out_of_range_says_so_with_units(value, unit, error):
    form = _Duration({"window_value": value, "window_unit": unit})
    assert not form.is_valid() and form.errors["window"] == [error]


def test_a_source_prefix_is_an_ipaddress_network():
    assert str(SourcePrefixField().clean("10.1.2.3/24")) == "10.1.2.0/24"
    assert str(SourcePrefixField().clean("2001:db8::1")) == "2001:db8::1/128"
    with pytest.raises(forms.ValidationError, match="is not an IP address or CIDR range"):
        SourcePrefixField().clean("10.0.0.300")
    networks = SourcePrefixListField().clean("10.0.0.0/24, 203.0.113.7;2001:db8::/64")
    assert [str(n) for n in networks] == ["10.0.0.0/24", "203.0.113.7/32", "2001:db8::/64"]


def test_a_signed_value_comes_back_only_unchanged():
    field = SignedField(salt="test", max_age=60, expired="expired")
    token = field.sign({"a": 1})
    assert field.clean(token) == {"a": 1}
    with pytest.raises(forms.ValidationError, match="expired"):
        field.clean(token[:-2] + "xx")
    with pytest.raises(forms.ValidationError, match="expired"):
        SignedField(salt="other", max_age=60, expired="expired").clean(token)


def test_the_port_form_gives_a_port_rule():
    form = PortForm(
        {
            "number": "2222",
            "protocol": "TCP",
            "source": "list",
            "addresses": "10.0.0.9/24 10.0.0.0/24",
            "max_value": "90",
            "max_unit": "minutes",
        }
    )
    assert form.is_valid(), form.errors
    rule = form.cleaned_data["rule"]
    assert (rule.number, rule.protocol, rule.allowed_prefixes, rule.max_duration) == (
        2222,
        "TCP",
        ("10.0.0.0/24",),
        timedelta(minutes=90),
    )


def _row(name: str, *ports) -> VmRow:
    return VmRow(vm_id(name), name, SUB, "Test", "rg-web", "westeurope", "Linux", "running", CONFIGURED, ports=ports)


def _request_form(rows, **answers) -> RequestAccessForm:
    data = {
        "request_key": RequestAccessForm.new_key(),
        "source": "my-ip",
        "duration_value": "2",
        "duration_unit": "hours",
        "justification": "patching",
        **answers,
    }
    return RequestAccessForm(rows, "203.0.113.50", data)


def test_the_request_form_gives_the_ports_source_and_window():
    rows = [_row("a", port(22), port(3389, hours=1))]
    form = _request_form(rows, **{f"port-{vm_id('a').lower()}-22": "on"})
    assert form.is_valid(), form.errors
    data = form.cleaned_data
    assert ([c.port.number for c in data["chosen"]], data["source_prefix"], data["window"]) == (
        [22],
        "203.0.113.50",
        timedelta(hours=2),
    )


def test_the_request_form_refuses_what_the_policy_does_not_allow_one_message_each():
    rows = [_row("a", port(22), port(3389, hours=1, prefixes=("10.0.0.0/24",)))]
    ticked = {f"port-{vm_id('a').lower()}-{n}": "on" for n in (22, 3389)}
    form = _request_form(rows, **ticked)
    assert not form.is_valid()
    assert form.non_field_errors() == [
        "a port 3389 allows at most 1 h, not 2 h: ask for less or untick it.",
        "a port 3389 accepts only 10.0.0.0/24 as the source (Azure matches it exactly); choose it above or untick "
        "the port.",
    ]
    assert not _request_form(rows).is_valid() and _request_form(rows).non_field_errors() == [
        "Choose at least one port to open."
    ]


def test_an_altered_request_key_is_refused_and_replaced_so_the_form_can_be_sent_again():
    rows = [_row("a", port(22))]
    form = _request_form(rows, request_key="forged", **{f"port-{vm_id('a').lower()}-22": "on"})
    assert not form.is_valid() and form.errors["request_key"] == [
        "This form expired or was altered; check it and submit again."
    ]
    assert RequestAccessForm.base_fields["request_key"].clean(form.data["request_key"])


def test_a_port_may_have_its_own_time_and_source_checked_against_its_own_maximum():
    rows = [_row("a", port(22), port(3389, hours=1))]
    ssh, rdp = (f"port-{vm_id('a').lower()}-{n}" for n in (22, 3389))
    form = _request_form(
        rows,
        **{
            ssh: "on",
            rdp: "on",
            f"{rdp}-for_value": "30",
            f"{rdp}-for_unit": "minutes",
            f"{rdp}-from": "198.51.100.0/24",
        },
    )
    assert form.is_valid(), form.errors
    planned = {p.choice.port.number: (p.source, p.window) for p in form.cleaned_data["planned"]}
    assert planned == {22: ("203.0.113.50", timedelta(hours=2)), 3389: ("198.51.100.0/24", timedelta(minutes=30))}
    too_long = _request_form(rows, **{ssh: "on", f"{ssh}-for_value": "4", f"{ssh}-for_unit": "hours"})
    assert not too_long.is_valid() and too_long.non_field_errors() == [
        "a port 22 allows at most 3 h, not 4 h: ask for less or untick it."
    ]
    too_broad = _request_form(rows, **{ssh: "on", f"{ssh}-from": "0.0.0.0/0"})
    assert not too_broad.is_valid() and too_broad.non_field_errors()[0].startswith(
        "0.0.0.0/0 is too broad a source for a port 22"
    )


@pytest.mark.parametrize("digits", ["٥", "５", "3٥", "²"])
def test_numbers_are_ascii_digits_only(digits):
    """int() reads other scripts' digits (Arabic-Indic ٥, full-width ５); a number field takes only 0-9."""
    assert _Duration({"window_value": digits, "window_unit": "hours"}).errors["window"] == [
        "Give the time as a whole number."
    ]
    extend = ExtendForm(
        timedelta(hours=3),
        {"duration_value": digits, "duration_unit": "hours", "request_key": RequestAccessForm.new_key()},
    )
    assert not extend.is_valid() and "duration" in extend.errors
    port_form = PortForm(
        {"number": digits, "protocol": "TCP", "source": "per-request", "max_value": "1", "max_unit": "hours"}
    )
    assert not port_form.is_valid() and "number" in port_form.errors


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["approvals_needed", "pending_minutes", "extension_minutes", "longer_than_minutes"])
def test_an_approval_rules_numbers_are_ascii_digits_only(field):
    data = {
        "name": "Prod",
        "condition": "always",
        "approvals_needed": "1",
        "pending_minutes": "60",
        "extension_minutes": "0",
        "longer_than_minutes": "",
        "ports": "",
        "approvers": "",
        "subscription_id": "",
        "resource_group": "",
    }
    assert RuleForm(data).is_valid(), RuleForm(data).errors
    data[field] = "٥" if field != "approvals_needed" else "١"
    assert field in RuleForm(data).errors


def test_a_port_listed_twice_is_said_with_the_rows_other_errors():
    rows = [
        {
            "number": "22",
            "protocol": "*",
            "source": "list",
            "addresses": "10.0.0.300",
            "max_value": "3",
            "max_unit": "hours",
        },
        {
            "number": "22",
            "protocol": "*",
            "source": "per-request",
            "addresses": "",
            "max_value": "25",
            "max_unit": "hours",
        },
    ]
    data = {"form-TOTAL_FORMS": "2", "form-INITIAL_FORMS": "0", "form-MIN_NUM_FORMS": "0", "form-MAX_NUM_FORMS": "1000"}
    data.update({f"form-{i}-{k}": v for i, row in enumerate(rows) for k, v in row.items()})
    ports = PortFormSet(data)
    assert not ports.is_valid()
    assert ports.non_form_errors() == ["Port 22 is listed more than once."]
    assert "addresses" in ports.forms[0].errors and "max" in ports.forms[1].errors
