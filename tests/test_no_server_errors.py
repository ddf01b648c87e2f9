"""No input gives a server error: Hypothesis sends every form and query string the portal reads.

Alice (requester), Bob (admin) and Carol (auditor) sign in once for the module, inside one transaction
that is rolled back at its end; their inventories are fetched once per test, not per example. Each
field gets either the value a browser would send or something hostile, so that valid submissions (real
writes in the sandbox) are among the examples too. `make test` runs the "ci" profile; `make fuzz` runs
"fuzz" (about 10,000 inputs in all).
"""

from __future__ import annotations

import os

import pytest
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.azure_view import AzureView
from tests.conftest import MY_IP, PORTAL_HOST, sign_in

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db,
    # django-tables2 warns about a `sort` naming no column, then ignores it, as it should
    pytest.mark.filterwarnings("ignore:Use '__' to separate path components:DeprecationWarning"),
]

settings.register_profile(
    "ci", max_examples=50, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("fuzz", parent=settings.get_profile("ci"), max_examples=1250)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

EDGES = [
    "",
    " ",
    "0",
    "-1",
    "²",
    "٣",
    "1" * 40,
    "9" * 5000,
    "0001-01-01",
    "9999-12-31",
    "2026-02-30",
    "NaN",
    "1e309",
    "//evil.example",
    "/\\evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "/vms/?x=1",
    "0.0.0.0/0",
    "::/0",
    "1.2.3.4/0",
    "fe80::1%eth0",
    "10.0.0.0/8",
    "\x00",
    "%00",
    "<script>",
    "' OR 1=1 --",
    "../../etc/passwd",
    "on",
    "hours",
    "minutes",
    "*",
    "TCP",
    "list",
    "per-request",
    "other",
    "my-ip",
]
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
PREFIX = st.builds(lambda ip, length: f"{ip}/{length}", st.ip_addresses(), st.integers(-1, 130))
DATE = st.one_of(st.sampled_from(["0001-01-01", "0001-01-07", "9999-12-31"]), st.dates().map(str))
VALUE = st.one_of(st.sampled_from(EDGES), TEXT, PREFIX, st.dates().map(str), st.integers().map(str))


def query(*names: str, **typed):
    """A query string over `names` (and a stray name now and then), each possibly repeated; `typed` gives
    some names values of their own kind besides the hostile ones."""

    def values(name: str):
        one = st.one_of(typed[name], VALUE) if name in typed else VALUE
        return st.one_of(one, st.lists(one, min_size=2, max_size=3))

    return st.fixed_dictionaries({}, optional={name: values(name) for name in (*names, "stray")})


def form(good: dict[str, str]):
    """Each field as the browser sent it, hostile, repeated or missing."""
    field = lambda value: st.one_of(st.just(value), VALUE, st.lists(VALUE, max_size=3), st.none())  # noqa: E731
    return st.fixed_dictionaries({k: field(v) for k, v in good.items()}, optional={"extra": VALUE}).map(
        lambda data: {k: v for k, v in data.items() if v is not None}
    )


SENT = [0]  # requests sent, reported at the end of the module (`make fuzz` shows it)


def ok(response) -> bool:
    SENT[0] += 1
    if response.streaming:
        b"".join(response.streaming_content)  # a CSV fails while it streams, after its status
    return response.status_code < 500


@pytest.fixture(scope="module")
def people(sandbox_process, django_db_setup, django_db_blocker) -> dict[str, Client]:
    sandbox_process.reset()
    with django_db_blocker.unblock(), transaction.atomic():
        clients = {key: Client(HTTP_HOST=PORTAL_HOST) for key in ("alice", "bob", "carol", "hana")}
        for key, client in clients.items():
            assert sign_in(client, sandbox_process, key).status_code == 302
        yield clients
        transaction.set_rollback(True)
    print(f"\n{SENT[0]} requests sent")


@pytest.fixture(scope="module")
def azure(sandbox_process) -> AzureView:
    return AzureView(sandbox_process, "bob")


VM_TABS = ("tab", "q", "subscription", "resource_group", "region", "os", "power", "per_page", "sort", "page")


@given(data=query(*VM_TABS))
def test_vm_tabs(people, data):
    assert ok(people["alice"].get("/vms/", data))


@given(data=query("page"))
def test_my_access(people, data):
    assert ok(people["alice"].get("/access/", data))


@given(data=query("again", "vm"))
def test_request_again(people, data):
    assert ok(people["alice"].get("/access/new", data))


@given(next_url=VALUE)
def test_next(people, next_url):
    for response in (
        people["alice"].get("/accounts/sign-in", {"next": next_url}),
        people["alice"].post("/vms/refresh", {"next": next_url}),
    ):
        assert ok(response) and response.status_code == 302 and response["Location"].startswith("/")
        assert not response["Location"].startswith(("//", "/\\"))


def _request_fields(client: Client, ids: list[str]) -> dict[str, str]:
    page = client.get("/access/new", {"vm": ids}).context["form"]
    return {
        "vm": ids[0],
        "request_key": page["request_key"].value(),
        "source": "my-ip",
        "other_source": "",
        "duration_value": "1",
        "duration_unit": "hours",
        "justification": "Fuzzing",
        **{c.field_name: "on" for c in page.choices},
    }


def test_request_access_form(people, azure):
    ids = [azure.vm_id("Contoso Production", "rg-web", "web-02"), azure.vm_id("Contoso Production", "rg-sql", "sql-02")]
    good = _request_fields(people["alice"], ids)

    @given(data=form(good), more_vms=st.lists(st.sampled_from(ids) | VALUE, max_size=3))
    def post(data, more_vms):
        data["vm"] = [*([data["vm"]] if isinstance(data.get("vm"), str) else data.get("vm", [])), *more_vms]
        assert ok(people["alice"].post("/access/new", data, REMOTE_ADDR=MY_IP))

    post()


def test_rule_form(people, azure):
    good = {
        "name": "Production",
        "subscription_id": azure.sub("Contoso Production"),
        "resource_group": "rg-web",
        "condition": "always",
        "longer_than_minutes": "60",
        "ports": "22, 3389",
        "approvals_needed": "1",
        "approvers": "hana@contoso.test",
        "pending_minutes": "60",
        "extension_minutes": "0",
    }

    @given(data=form(good))
    def post(data):
        assert ok(people["bob"].post("/access/rules/new", data))

    post()


def test_decision_extend_and_end_forms(people, azure):
    from requests_app.models import AccessRequest, ApprovalRule

    rule = ApprovalRule.objects.create(name="Production", subscription_id=azure.sub("Contoso Production"))
    alice = people["alice"]
    alice.post(
        "/access/new",
        _request_fields(alice, [azure.vm_id("Contoso Production", "rg-web", "web-02")]),
        REMOTE_ADDR=MY_IP,
    )
    waiting = AccessRequest.objects.latest("id")
    rule.delete()
    alice.post(
        "/access/new",
        _request_fields(alice, [azure.vm_id("Contoso Development", "rg-dev", "dev-01")]),
        REMOTE_ADDR=MY_IP,
    )
    opened = AccessRequest.objects.latest("id")
    assert (waiting.status, opened.status) == ("awaiting", "opened")
    extend = alice.get(f"/access/requests/{opened.pk}/extend").context["form"]

    @given(
        decision=form({"decision": "deny", "comment": "no"}),
        extension=form({"duration_value": "1", "duration_unit": "hours", "request_key": extend["request_key"].value()}),
        pk=st.sampled_from([waiting.pk, opened.pk]) | st.integers(-1, 10**20).map(str) | VALUE,
    )
    def post(decision, extension, pk):
        for action in ("decide", "open", "cancel", "end"):
            assert ok(people["hana"].post(f"/access/requests/{pk}/{action}", decision))
        assert ok(alice.post(f"/access/requests/{pk}/extend", extension))

    post()


def test_per_row_end_extend_and_end_all(people, azure):
    from requests_app.models import AccessRequest

    alice = people["alice"]
    alice.post(
        "/access/new",
        _request_fields(alice, [azure.vm_id("Contoso Development", "rg-dev", name) for name in ("dev-01", "dev-03")]),
        REMOTE_ADDR=MY_IP,
    )
    item = AccessRequest.objects.latest("id").items.first()
    extend = alice.get(f"/access/items/{item.pk}/extend").context["form"]

    @given(
        extension=form({"duration_value": "1", "duration_unit": "hours", "request_key": extend["request_key"].value()}),
        listed=form({"item": str(item.pk), "next": "/access/approvals/"}),
        pk=st.sampled_from([item.pk]) | st.integers(-1, 10**20).map(str) | VALUE,
    )
    def post(extension, listed, pk):
        assert ok(alice.post(f"/access/items/{pk}/extend", extension))
        assert ok(alice.get(f"/access/items/{pk}/extend", extension))
        for who in ("alice", "bob", "hana"):
            assert ok(people[who].post(f"/access/items/{pk}/end", listed))
        assert ok(alice.get("/access/end-all", listed))
        assert ok(alice.post("/access/end-all", listed))

    post()


def _port_fields(client: Client, url: str, rows: int) -> dict[str, str]:
    opened = client.get(url).context["opened"]
    fields = {
        "opened": opened,
        "form-TOTAL_FORMS": str(rows),
        "form-INITIAL_FORMS": "0",
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
    }
    for i in range(rows):
        fields |= {
            f"form-{i}-number": str(22 + i),
            f"form-{i}-protocol": "TCP",
            f"form-{i}-source": "list",
            f"form-{i}-addresses": "10.0.0.0/24, 203.0.113.7",
            f"form-{i}-max_value": "3",
            f"form-{i}-max_unit": "hours",
            f"form-{i}-DELETE": "",
        }
    return fields


def test_enable_form(people, azure):
    target = azure.vm_id("Contoso Development", "rg-build", "build-01")
    good = {"vm": target, **_port_fields(people["bob"], f"/vms/enable?vm={target}", 2)}

    @given(data=form(good))
    def post(data):
        assert ok(people["bob"].post("/vms/enable", data))
        assert ok(people["bob"].post("/vms/enable/defaults", {"vm": data.get("vm", "")} if "vm" in data else {}))

    post()


def test_edit_and_remove_forms(people, azure):
    page = f"/vms/{azure.sub('Contoso Production')}/rg-web/web-02/jit/"
    good = _port_fields(people["bob"], page + "edit", 2)

    @given(data=form(good), opened=VALUE)
    def post(data, opened):
        assert ok(people["bob"].post(page + "edit", data))
        assert ok(people["bob"].post(page + "remove", {"opened": opened}))

    post()


AUDIT = ("start", "end", "subscription", "resource_group", "vm", "person", "operation", "page", "format")


def test_audit_filters(people, azure):
    vm_page = f"/audit/vm/{azure.sub('Contoso Production')}/rg-sql/sql-01/"

    @given(data=query(*AUDIT, start=DATE, end=DATE), trail=query("action", "actor", "page"))
    def get(data, trail):
        for url in ("/audit/", "/audit/report.csv", vm_page):
            assert ok(people["carol"].get(url, data))
        for url in ("/audit/trail", "/audit/trail.csv"):
            assert ok(people["carol"].get(url, trail))

    get()
