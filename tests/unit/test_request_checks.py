"""The checks of the requests' forms (requests_app/forms.py): what a requester may ask for (sources, windows,
break glass, justification), how an approver decides, how long an extension may be, and what an approval rule may say."""

from __future__ import annotations

from datetime import timedelta

import pytest

from requests_app.forms import (
    OTHER,
    BreakGlass,
    DecisionForm,
    ExtendForm,
    RequestAccessForm,
    RuleForm,
    own_source,
    own_time,
)
from requests_app.models import ApprovalRule
from requests_app.plan import Choice
from tests.unit.builders import SUB, port, vm_id
from vms.inventory import CONFIGURED, VmRow

MY_IP = "203.0.113.50"


def _row(name: str, *ports, os_type: str = "Linux", power: str = "running") -> VmRow:
    return VmRow(vm_id(name), name, SUB, "Test", "rg-web", "westeurope", os_type, power, CONFIGURED, ports=ports)


def _tick(name: str, number: int) -> str:
    return f"port-{vm_id(name).lower()}-{number}"


def _form(rows, my_ip: str = MY_IP, **answers) -> RequestAccessForm:
    data = {
        "request_key": RequestAccessForm.new_key(),
        "source": "my-ip",
        "duration_value": "1",
        "duration_unit": "hours",
        "justification": "patching",
        **answers,
    }
    return RequestAccessForm(rows, my_ip, data)


def test_a_vm_starts_with_its_usual_port_ticked_unless_one_of_its_ports_was_picked():
    linux = _row("lin", port(80), port(22))
    windows = _row("win", port(22), port(3389), os_type="Windows")
    other = _row("odd", port(8443), port(9000), os_type="")
    none = _row("none")
    form = RequestAccessForm([linux, windows, other, none], MY_IP, picked={_tick("win", 22)})
    ticked = {name for name, field in form.fields.items() if name.startswith("port-") and field.initial}
    assert ticked == {_tick("lin", 22), _tick("win", 22), _tick("odd", 8443)}


def test_each_port_has_its_own_time_and_source_named_for_it():
    form = RequestAccessForm([_row("web", port(22))], MY_IP)
    choice = Choice(_row("web", port(22)), port(22))
    assert (own_time(choice), own_source(choice)) == (f"{_tick('web', 22)}-for", f"{_tick('web', 22)}-from")
    assert (
        form.fields[own_time(choice)].label == "Own time for web port 22" and not form.fields[own_time(choice)].required
    )
    assert form.fields[own_time(choice)].widget.widgets[1].attrs["aria-label"] == "Unit for web port 22"
    assert form.fields[own_source(choice)].label == "Own source for web port 22"
    assert (
        form.fields[_tick("web", 22)].widget.attrs["aria-label"] == "web port 22"
        and form.fields[_tick("web", 22)].label == "web port 22"
    )
    assert [(c, f.name, t.name, s.name) for c, f, t, s in form.port_fields()] == [
        (choice, _tick("web", 22), own_time(choice), own_source(choice))
    ]


def test_the_sources_offered_are_my_ip_the_policies_ranges_and_another():
    form = RequestAccessForm(
        [
            _row("a", port(22, prefixes=("10.0.0.0/24", "*")), port(80, prefixes=("10.0.0.0/24",))),
            _row("b", port(22, prefixes=("192.0.2.0/24",))),
        ],
        MY_IP,
    )
    assert form.fields["source"].choices == [
        ("my-ip", f"My IP ({MY_IP})"),
        ("10.0.0.0/24", "10.0.0.0/24"),
        ("192.0.2.0/24", "192.0.2.0/24"),
        ("other", "Another IP or CIDR"),
    ]
    assert form.fields["source"].initial == "my-ip"
    assert form.fields["other_source"].widget.attrs["aria-labelledby"] == "id_source_3-words"


def test_the_window_starts_at_an_hour_or_the_shortest_maximum():
    assert RequestAccessForm([_row("a", port(22, hours=3))], MY_IP).fields["duration"].initial == timedelta(hours=1)
    short = RequestAccessForm([_row("a", port(22, hours=3), port(80, hours=0.5))], MY_IP)
    assert short.fields["duration"].initial == timedelta(minutes=30)
    assert RequestAccessForm([], MY_IP).fields["duration"].initial == timedelta(hours=1)


def test_stopped_vms_are_named_once(settings):
    stopped = _row("db", port(22), port(3389), power="deallocated")
    assert RequestAccessForm([_row("web", port(22)), stopped], MY_IP).not_running == [stopped]


def test_the_justification_is_required_as_the_settings_say(settings):
    settings.JIT_REQUIRE_JUSTIFICATION = False
    assert _form([_row("a", port(22))], justification="", **{_tick("a", 22): "on"}).is_valid()
    settings.JIT_REQUIRE_JUSTIFICATION = True
    form = _form([_row("a", port(22))], justification="", **{_tick("a", 22): "on"})
    assert not form.is_valid() and form.errors["justification"] == ["Say why you need access."]


def test_the_justification_must_have_the_form_the_settings_ask(settings):
    settings.JIT_JUSTIFICATION_PATTERN = r"CHG-\d+"
    rows = [_row("a", port(22))]
    assert _form(rows, justification="for CHG-42", **{_tick("a", 22): "on"}).is_valid()
    form = _form(rows, justification="patching", **{_tick("a", 22): "on"})
    assert form.errors["justification"] == [
        r"This justification does not have the expected form: it must match CHG-\d+."
    ]
    settings.JIT_JUSTIFICATION_HINT = "a change number, CHG-123"
    form = _form(rows, justification="patching", **{_tick("a", 22): "on"})
    assert form.errors["justification"] == [
        "This justification does not have the expected form: a change number, CHG-123."
    ]


def test_breaking_glass_needs_a_reason_and_a_reason_alone_breaks_nothing():
    form = BreakGlass({"break_glass": "on", "break_glass_reason": "  "})
    assert not form.is_valid() and form.errors["break_glass_reason"] == [
        "Breaking glass needs a reason: say why this cannot wait for an approver."
    ]
    form = BreakGlass({"break_glass": "on", "break_glass_reason": " outage "})
    assert form.is_valid() and form.cleaned_data["break_glass_reason"] == "outage"
    form = BreakGlass({"break_glass_reason": "outage"})
    assert form.is_valid() and form.cleaned_data["break_glass_reason"] == ""


@pytest.mark.parametrize(
    "answers, source",
    [
        ({"source": "my-ip"}, MY_IP),
        ({"source": OTHER, "other_source": "198.51.100.0/24"}, "198.51.100.0/24"),
        ({"source": OTHER, "other_source": "198.51.100.9"}, "198.51.100.9"),
        ({"source": "10.0.0.0/24"}, "10.0.0.0/24"),
    ],
)
def test_the_source_goes_to_azure_as_chosen(answers, source):
    rows = [_row("a", port(22, prefixes=("*",)), port(80, prefixes=("10.0.0.0/24",)))]
    form = _form(rows, **{_tick("a", 22): "on", **answers})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["source_prefix"] == source and form.cleaned_data["planned"][0].source == source


def test_an_address_typed_but_not_chosen_is_never_dropped_silently():
    form = _form([_row("a", port(22))], other_source="198.51.100.9", **{_tick("a", 22): "on"})
    assert not form.is_valid() and form.errors["other_source"] == [
        "You typed 198.51.100.9 here but chose “My IP (203.0.113.50)” above: choose “Another IP or CIDR” to use it, "
        "or clear this box."
    ]
    form = _form([_row("a", port(22))], source=OTHER, **{_tick("a", 22): "on"})
    assert not form.is_valid() and form.errors["other_source"] == ["Give an IP address or CIDR range."]


def test_when_the_portal_cannot_tell_my_ip_another_must_be_given():
    form = _form([_row("a", port(22))], my_ip="", **{_tick("a", 22): "on"})
    assert not form.is_valid() and form.errors["source"] == [
        "The portal cannot tell your IP address; choose Another IP or CIDR."
    ]


def test_every_port_over_its_maximum_is_named_once_per_maximum_and_window():
    rows = [_row("a", port(22, hours=1), port(80, hours=1), port(443, hours=0.5), port(8080, hours=3))]
    form = _form(rows, duration_value="2", **{_tick("a", n): "on" for n in (22, 80, 443, 8080)})
    assert not form.is_valid() and form.non_field_errors() == [
        "a port 443 allows at most 30 min, not 2 h: ask for less or untick it.",
        "a port 22 and a port 80 allow at most 1 h, not 2 h: ask for less or untick them.",
    ]
    assert _form(rows, **{_tick("a", 22): "on"}).is_valid()  # exactly the maximum


def test_a_source_a_port_does_not_list_is_refused_and_a_broad_one_only_for_ports_open_to_any():
    rows = [_row("a", port(22), port(80), port(443, prefixes=("0.0.0.0/0",)))]
    ticked = {_tick("a", n): "on" for n in (22, 80, 443)}
    form = _form(rows, source=OTHER, other_source="0.0.0.0/0", **ticked)
    assert not form.is_valid() and form.non_field_errors() == [
        "0.0.0.0/0 is too broad a source for a port 22, a port 80: at most /24 for IPv4 and /64 for IPv6, unless the "
        "policy lists the range itself."
    ]
    form = _form(rows, **{_tick("a", 443): "on", f"{_tick('a', 443)}-from": "0.0.0.0/0"})
    assert form.is_valid(), form.errors  # the policy lists it
    form = _form(rows, **{_tick("a", 443): "on"})
    assert form.non_field_errors() == [
        "a port 443 accepts only 0.0.0.0/0 as the source (Azure matches it exactly); "
        "choose it above or untick the port."
    ]


def test_a_ports_own_source_and_time_replace_the_requests():
    rows = [_row("a", port(22), port(80))]
    form = _form(
        rows,
        **{
            _tick("a", 22): "on",
            _tick("a", 80): "on",
            f"{_tick('a', 80)}-from": "198.51.100.7",
            f"{_tick('a', 80)}-for_value": "10",
            f"{_tick('a', 80)}-for_unit": "minutes",
        },
    )
    assert form.is_valid(), form.errors
    assert [(p.source, p.window) for p in form.cleaned_data["planned"]] == [
        (MY_IP, timedelta(hours=1)),
        ("198.51.100.7", timedelta(minutes=10)),
    ]
    assert [c.port.number for c in form.cleaned_data["chosen"]] == [22, 80]
    assert form.cleaned_data["window"] == timedelta(hours=1)


def test_a_denial_says_why_an_approval_need_not():
    assert DecisionForm({"decision": "approve"}).is_valid()
    form = DecisionForm({"decision": "deny", "comment": "  "})
    assert not form.is_valid() and form.errors["comment"] == ["Say why you deny it: the requester reads this."]
    assert DecisionForm({"decision": "deny", "comment": "not during the freeze"}).is_valid()
    assert not DecisionForm({"decision": "maybe"}).is_valid()
    form = DecisionForm({"decision": "deny", "comment": "x" * 1001})  # a reason too long to keep is no reason
    assert form.errors["comment"] == [
        "Ensure this value has at most 1000 characters (it has 1001).",
        "Say why you deny it: the requester reads this.",
    ]


def test_an_extension_is_at_most_what_is_left_of_the_maximum():
    form = ExtendForm(timedelta(minutes=90), {"duration_value": "2", "duration_unit": "hours"})
    assert not form.is_valid() and form.errors["duration"] == ["From 5 min to 1 h 30 min."]
    form = ExtendForm(
        timedelta(minutes=90),
        {"duration_value": "90", "duration_unit": "minutes", "request_key": RequestAccessForm.new_key()},
    )
    assert form.is_valid(), form.errors
    assert form.fields["duration"].initial == timedelta(minutes=90)
    assert form.fields["duration"].label == "Open for (from now)"
    assert RequestAccessForm.base_fields["request_key"].clean(form.fields["request_key"].initial)
    assert ExtendForm(timedelta(hours=1), {}).errors["duration"] == ["Say for how long."]


SUB_B = "0b1c2d3e-aaaa-4bbb-8ccc-0123456789ab"  # letters, so that a change of case shows
PLACES = {SUB_B: ("Contoso Test", ["rg-Web", "rg-db"])}


def _rule(places=PLACES, **answers) -> RuleForm:
    return RuleForm(
        {
            "name": "Production",
            "condition": ApprovalRule.ALWAYS,
            "approvals_needed": "1",
            "pending_minutes": "60",
            "extension_minutes": "0",
            **answers,
        },
        places=places,
    )


def test_a_rules_scope_is_picked_among_the_places_azure_shows_the_person():
    form = _rule(subscription_id=f" {SUB_B.upper()} ", resource_group=" RG-WEB ")
    assert form.is_valid(), form.errors
    assert (form.cleaned_data["subscription_id"], form.cleaned_data["resource_group"]) == (SUB_B, "rg-Web")
    assert _rule(subscription_id="prod").errors["subscription_id"] == [
        "A subscription id looks like 00000000-0000-0000-0000-000000000000."
    ]
    assert _rule(subscription_id=SUB).errors["subscription_id"] == [
        "Pick a subscription from the list: Azure does not show you that one."
    ]
    assert _rule(subscription_id=SUB_B, resource_group="rg/web").errors["resource_group"] == [
        "Not a resource group name (letters, digits, - _ . ( ), at most 90)."
    ]
    assert _rule(subscription_id=SUB_B, resource_group="rg-other").errors["resource_group"] == [
        "Azure shows you no resource group “rg-other” in Contoso Test."
    ]
    assert _rule(resource_group="rg-web").errors["resource_group"] == ["A resource group needs its subscription."]
    # A subscription refused already says what is wrong: the group is not blamed for it.
    assert "resource_group" not in _rule(subscription_id="prod", resource_group="rg-web").errors
    assert _rule(places=None, subscription_id=SUB_B).errors["subscription_id"] == [
        "Pick a subscription from the list: Azure does not show you that one."
    ]


def test_the_rules_scope_is_offered_by_name_as_people_read_names():
    form = RuleForm(places={SUB_B: ("TeamB", ["rg-Web"]), SUB: ("Team_A", [])})
    assert form.fields["subscription_id"].widget.choices == [
        ("", "Every subscription"),
        (SUB, "Team_A"),
        (SUB_B, "TeamB"),
    ]
    assert form.fields["resource_group"].widget.choices == [
        ("", "The whole subscription"),
        ("Team_A", []),
        ("TeamB", [("rg-Web", "rg-Web")]),
    ]


@pytest.mark.django_db
def test_a_rule_is_edited_from_what_it_says():
    rule = ApprovalRule.objects.create(name="Production", subscription_id=SUB_B, approvals_needed=2)
    form = RuleForm(instance=rule, places=PLACES)
    assert (form["name"].value(), form["subscription_id"].value(), form["approvals_needed"].value()) == (
        "Production",
        SUB_B,
        2,
    )


def test_a_rules_ports_are_numbers_read_once_each():
    form = _rule(condition=ApprovalRule.PORTS, ports="22; 3389,022  65535 0")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["ports"] == "22, 3389, 65535, 0"
    for bad in ["65536", "ssh", "-1", "123456"]:
        assert _rule(ports=bad).errors["ports"] == ["Ports are numbers from 0 to 65535, separated by commas."]
    assert _rule(ports=" ".join(str(n) for n in range(21))).errors["ports"] == ["At most 20 ports, not 21."]
    assert _rule(condition=ApprovalRule.PORTS, ports=" ".join(str(n) for n in range(20))).is_valid()
    assert _rule(condition=ApprovalRule.PORTS, ports=" ").errors["ports"] == ["Say which ports need approval."]


def test_a_rule_longer_than_says_how_long():
    assert _rule(condition=ApprovalRule.LONGER).errors["longer_than_minutes"] == [
        "Say after how many minutes a request needs approval."
    ]
    assert _rule(condition=ApprovalRule.LONGER, longer_than_minutes="0").is_valid()


def test_a_rules_approvers_are_user_principal_names_once_each_in_lower_case():
    form = _rule(approvers="Bob@Contoso.com\n\n bob@contoso.com \ndave@contoso.com")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["approvers"] == "bob@contoso.com\ndave@contoso.com"
    for bad in [
        "bob",
        "bob@",
        "@contoso.com",
        "b ob@contoso.com",
        "bob@contoso@com",
        "x" * 65 + "@contoso.com",
        "x" * 100,
    ]:
        assert _rule(approvers=bad).errors["approvers"] == [f"Not a user principal name: {bad[:80]}."]
    many = "\n".join(f"p{n}@contoso.com" for n in range(51))
    assert _rule(approvers=many).errors["approvers"] == [
        "At most 50 approvers by name; give the role JIT.Approver instead."
    ]
    assert _rule(approvers="\n".join(f"p{n}@contoso.com" for n in range(50))).is_valid()


@pytest.mark.parametrize(
    "name, low, high",
    [
        ("approvals_needed", 1, 3),
        ("pending_minutes", 5, 7 * 24 * 60),
        ("extension_minutes", 0, 24 * 60),
        ("longer_than_minutes", 0, 24 * 60),
    ],
)
def test_a_rules_numbers_are_bounded_and_say_so(name, low, high):
    for outside in (low - 1, high + 1):
        assert _rule(condition=ApprovalRule.LONGER, **{"longer_than_minutes": "5", name: str(outside)}).errors[name][
            0
        ] == (f"From {low} to {high}.")
    for inside in (low, high):
        assert _rule(condition=ApprovalRule.LONGER, **{"longer_than_minutes": "5", name: str(inside)}).is_valid()
    widget = RuleForm().fields[name].widget
    assert (widget.attrs["min"], widget.attrs["max"]) == (low, high)


def test_every_form_carries_its_own_one_time_key():
    first, second = RequestAccessForm.new_key(), RequestAccessForm.new_key()
    field = RequestAccessForm.base_fields["request_key"]
    assert field.clean(first) != field.clean(second)
    assert RequestAccessForm([], MY_IP, initial={"request_key": first})["request_key"].value() == first


def test_a_port_listing_several_sources_names_them_all():
    rows = [_row("a", port(22, prefixes=("10.0.0.0/24", "192.0.2.0/24")))]
    form = _form(rows, **{_tick("a", 22): "on"})
    assert form.non_field_errors() == [
        "a port 22 accepts only 10.0.0.0/24, 192.0.2.0/24 as the source (Azure matches "
        "it exactly); choose it above or untick the port."
    ]
