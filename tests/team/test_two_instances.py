"""Two gunicorn instances of the portal on one PostgreSQL and one Redis, beside the sandbox: what a team's
load balancer may do to people (send each click to either instance, lose an instance) loses nothing.

Skipped loudly without PostgreSQL and Redis on loopback (`.ci/run` starts them), except under CI=true."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import psycopg
import pytest

from tests.team.cluster import (
    Instance,
    Person,
    drop_database,
    fresh_database,
    hidden,
    prepare,
    start_instance,
    team_environment,
    unreachable,
)

# One worker runs the team tests in turn (make test runs pytest-xdist): both collect static files into var/static.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("team")]
EDITS = 20


@pytest.fixture(scope="module")
def team(sandbox_process, tmp_path_factory):
    """Instances A and B, with the environment and database they share."""
    if (why := unreachable()) is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(f"SKIPPED LOUDLY: the two-instance tests need PostgreSQL and Redis: {why}")
    env = team_environment(sandbox_process, fresh_database())
    prepare(env)
    logs = tmp_path_factory.mktemp("instances")
    ports = [_free_port(), _free_port()]
    team = {"env": env, "logs": logs}
    try:
        for name, port in zip("AB", ports, strict=True):
            team[name] = start_instance(name, port, env, logs)
        yield team
    finally:
        for name in "AB":  # as they are now: a test may have replaced one it killed
            if name in team:
                team[name].stop()
        drop_database(env["DATABASE_URL"])


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rows(env: dict[str, str], sql: str) -> list[tuple]:
    with psycopg.connect(env["DATABASE_URL"]) as db:
        return db.execute(sql).fetchall()


def _at_once(calls: list) -> list:
    """Run the calls in threads started together; their results in order."""
    results: list = [None] * len(calls)
    threads = [threading.Thread(target=lambda i=i, c=c: results.__setitem__(i, c())) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def _edit(person: Person, instance: Instance, vm_path: str, port: int, page) -> str:
    data = {
        "opened": hidden(page, "opened"),
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "0",
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "form-0-number": str(port),
        "form-0-protocol": "*",
        "form-0-source": "per-request",
        "form-0-addresses": "",
        "form-0-max_value": "3",
        "form-0-max_unit": "hours",
    }
    answer = person.post(instance, f"{vm_path}/jit/edit", data, page)
    if 'name="confirm_removal"' in answer.text:  # the edit takes ports away: the page lists them, she confirms
        answer = person.post(
            instance, f"{vm_path}/jit/edit", {**data, "confirm_removal": hidden(answer, "confirm_removal")}, answer
        )
    return answer.text


def _request_form(person: Person, instance: Instance, vm_id: str):
    page = person.get(instance, "/access/new", vm=vm_id)
    assert page.status_code == 200, page.text[:500]
    return page, {
        "vm": vm_id,
        "request_key": hidden(page, "request_key"),
        "source": "my-ip",
        "duration_value": "1",
        "duration_unit": "hours",
        "justification": "Deploying hotfix 4.2.2",
        f"port-{vm_id.lower()}-22": "on",
    }


def test_a_person_signed_in_through_a_continues_on_b(team, sandbox):
    alice = Person(sandbox)
    alice.sign_in(team["A"], "alice")
    page = alice.get(team["B"], "/access/")
    assert page.status_code == 200 and not page.history, "B sent Alice to sign in again"
    assert "Alice Archer" in page.text


def test_a_write_through_a_makes_bs_vm_list_stale_at_once(team, sandbox, view):
    bob = Person(sandbox)
    bob.sign_in(team["A"], "bob")
    sub = view.sub("Contoso Production")
    before = bob.get(team["B"], "/vms/")  # B now holds Bob's inventory
    assert before.status_code == 200 and "2345" not in before.text
    page = bob.get(team["A"], f"/vms/{sub}/rg-web/web-01/jit/edit")
    assert "<td>web-01</td><td>Done</td>" in _edit(bob, team["A"], f"/vms/{sub}/rg-web/web-01", 2345, page)
    assert "2345" in bob.get(team["B"], "/vms/").text, "B still showed the list from before A's write"


def test_concurrent_edits_of_one_policy_through_both_instances_lose_no_update(team, sandbox, view):
    first, second = Person(sandbox), Person(sandbox)
    first.sign_in(team["A"], "bob")
    second.sign_in(team["B"], "bob")
    sub = view.sub("Contoso Production")
    paths = {"web-01": f"/vms/{sub}/rg-web/web-01", "web-02": f"/vms/{sub}/rg-web/web-02"}
    sandbox.control("POST", "latency", {"operation": "jit.put", "ms": 200})  # widen the window for a race
    lost, saved, refused = [], 0, 0
    for round_ in range(EDITS):
        work = [(first, team["A"], "web-01", 2000 + round_), (second, team["B"], "web-02", 3000 + round_)]
        pages = [person.get(instance, f"{paths[vm]}/jit/edit") for person, instance, vm, _ in work]
        answers = dict(
            zip(
                paths,
                _at_once(
                    [lambda w=w, p=p: _edit(w[0], w[1], paths[w[2]], w[3], p) for w, p in zip(work, pages, strict=True)]
                ),
                strict=True,
            )
        )
        final = view.ports("Contoso Production", "rg-web", "westeurope")
        for _, _, vm, port in work:
            told_saved = f"<td>{vm}</td><td>Done</td>" in answers[vm]
            in_azure = final[vm] == [(port, "*", "*", "PT3H")]
            if told_saved and not in_azure:
                lost.append((round_, vm, final[vm]))
            elif not told_saved:
                refused += 1
                # refused in words: the policy changed since the form was opened, or the other save holds its lease
                assert "Nothing was saved" in answers[vm] or "Not saved" in answers[vm], answers[vm][-3000:]
            saved += told_saved
    assert lost == [], f"lost updates: {lost}"
    assert saved >= EDITS, f"only {saved} of {2 * EDITS} edits saved ({refused} refused in words)"


def test_a_double_submit_landing_on_both_instances_creates_one_request(team, sandbox, view):
    alice = Person(sandbox)
    alice.sign_in(team["A"], "alice")
    vm_id = view.vm_id("Contoso Production", "rg-web", "web-02")
    page, data = _request_form(alice, team["A"], vm_id)
    answers = [
        r.status_code
        for r in _at_once([lambda i=i: alice.post(i, "/access/new", data, page) for i in (team["A"], team["B"])])
    ]
    assert answers == [200, 200], answers  # both land on the request's page (after the redirect)
    assert _rows(team["env"], "SELECT count(*) FROM requests_app_accessrequest")[0][0] == 1
    requests_in_azure = [
        r
        for p in view.policies("Contoso Production", "rg-web", "westeurope")
        for r in p.requests
        if r.justification == "Deploying hotfix 4.2.2"
    ]
    assert len(requests_in_azure) == 1


def test_every_log_line_is_json_without_a_secret(team):
    lines = [line for name in "AB" for line in (Path(team["logs"]) / f"{name}.log").read_text().splitlines()]
    records = [json.loads(line) for line in lines]  # each line one JSON object
    requests_logged = [r for r in records if r.get("logger") == "jitportal.request"]
    assert requests_logged and all({"request_id", "status", "duration_ms"} <= r.keys() for r in requests_logged)
    assert any(r.get("oid") for r in requests_logged), "no line named the signed-in person"
    text = "\n".join(lines)
    assert "eyJ" not in text, "a JWT (token) reached the log"
    for secret in (team["env"]["AZURE_CLIENT_SECRET"], team["env"]["DJANGO_SECRET_KEY"], "sessionid=", "code="):
        assert secret not in text


def test_an_instance_killed_mid_request_loses_no_saved_request(team, sandbox, view):
    alice = Person(sandbox)
    alice.sign_in(team["A"], "alice")
    vm_id = view.vm_id("Contoso Production", "rg-sql", "sql-02")
    page, data = _request_form(alice, team["A"], vm_id)
    sandbox.control("POST", "latency", {"operation": "jit.initiate", "ms": 5000})
    before = _rows(team["env"], "SELECT count(*) FROM requests_app_accessrequest")[0][0]
    threading.Thread(
        target=lambda: _ignore_errors(lambda: alice.post(team["A"], "/access/new", data, page)), daemon=True
    ).start()
    deadline = time.monotonic() + 20
    while _rows(team["env"], "SELECT count(*) FROM requests_app_accessrequest")[0][0] == before:
        assert time.monotonic() < deadline, "the request was never saved"
        time.sleep(0.1)
    team["A"].kill()  # while it waits on Azure's answer
    try:
        time.sleep(6)  # Azure applies the request after its latency, as it would with the caller gone
        mine = alice.get(team["B"], "/access/")
        assert mine.status_code == 200 and "sql-02" in mine.text
    finally:
        team["A"] = start_instance("A", team["A"].port, team["env"], Path(team["logs"]))


def _ignore_errors(call) -> None:
    try:
        call()
    except Exception:  # the instance was killed under this request, as intended
        pass
