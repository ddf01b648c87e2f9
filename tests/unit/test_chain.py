"""The portal's trail is append-only and chained by a keyed MAC; verify_audit finds the first break, including
newest events removed since a checkpoint, and someone who rewrites the database without the key. A MAC, a key's id
and the text a MAC covers are pinned: events sealed by an earlier version must verify with every later one."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from core.actor import PORTAL, Actor
from trail.chain import GENESIS, Break, Checkpoint, checkpoint, first_break, key_id, keys, log_checkpoint, record
from trail.models import AppendOnly, AuditEvent, AuditScope

SUB = "0b1c2d3e-aaaa-4bbb-8ccc-0123456789ab"


def _three_events():
    return [
        record(PORTAL, "jit.edit", f"/policy/{i}", "succeeded", details={"before": i, "after": i + 1}) for i in range(3)
    ]


def _rewrite(event: AuditEvent, previous: str, seal) -> str:
    """What someone who can write the database does: change, relink and re-seal with what they have."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET previous_mac = %s WHERE id = %s", [previous, event.pk])
        fresh = AuditEvent.objects.get(pk=event.pk)
        cursor.execute("UPDATE audit_auditevent SET mac = %s WHERE id = %s", [seal(fresh), event.pk])
    return seal(fresh)


def _pinned() -> AuditEvent:
    return AuditEvent(
        seq=7,
        created=datetime(2026, 11, 28, 12, 0, tzinfo=UTC),
        actor_id=3,
        actor_name="alice@contoso.com",
        action="jit.request",
        target="/subscriptions/x",
        outcome="succeeded",
        source_ip="203.0.113.7",
        correlation_id="c-1",
        details={"ports": [22], "why": "patching"},
        key_id="0123456789abcdef",
        previous_mac="a" * 64,
    )


def test_a_mac_covers_every_field_in_one_stable_text():
    assert _pinned().canonical() == (
        '{"action":"jit.request","actor":3,"actor_name":"alice@contoso.com","correlation_id":"c-1",'
        '"created":"2026-11-28T12:00:00+00:00","details":{"ports":[22],"why":"patching"},"key_id":"0123456789abcdef",'
        '"outcome":"succeeded","previous_mac":"' + "a" * 64 + '","seq":7,"source_ip":"203.0.113.7",'
        '"target":"/subscriptions/x"}'
    )
    assert _pinned().compute_mac(b"the audit key") == "2dd065c21cf58f5f4b29b1adea9bb9cb6fd992a1cf56093bf70ee96c88dae921"


def test_a_keys_id_is_stable_and_is_not_the_key(settings):
    assert key_id(b"the audit key") == "dd9daf44f4378994"
    settings.AUDIT_KEY, settings.AUDIT_PREVIOUS_KEYS = "", []
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "django secret", []
    # Without AUDIT_KEY the key is derived from Django's secret key, never the secret key itself.
    derived = bytes.fromhex("51658e3bb8cf4195c0afeef3a0e4979851c485e3383c20b1631bc788f3aca321")
    assert keys() == {key_id(derived): derived}


def test_every_configured_key_verifies_the_current_one_first(settings):
    settings.AUDIT_KEY, settings.AUDIT_PREVIOUS_KEYS = "now", ["before", "long ago"]
    settings.SECRET_KEY_FALLBACKS = ["old django secret"]
    found = keys()
    assert list(found.values())[:3] == [b"now", b"before", b"long ago"] and len(found) == 4
    assert list(found)[0] == key_id(b"now")
    del settings.SECRET_KEY_FALLBACKS
    assert len(keys()) == 3  # a settings module without fallbacks


def test_a_checkpoint_is_a_count_and_a_mac():
    mac = "0f" * 32
    assert str(Checkpoint(12, mac)) == f"12:{mac}"
    assert Checkpoint.parse(f"  12:{mac}\n") == Checkpoint(12, mac)
    for bad in [f"12:{mac.upper()}", f"12:{mac}0", f"x:{mac}", f"12 {mac}", f"-1:{mac}", f"12:{mac[:-1]}"]:
        with pytest.raises(ValueError) as refused:
            Checkpoint.parse(bad)
        assert str(refused.value) == "a checkpoint is <count>:<64 hex digits>, as the log and the CSV give it"


@pytest.mark.django_db
def test_events_chain_and_verify(capsys):
    events = _three_events()
    assert events[1].previous_mac == events[0].mac and events[2].previous_mac == events[1].mac
    assert [e.seq for e in events] == [1, 2, 3] and len({e.key_id for e in events}) == 1
    call_command("verify_audit", checkpoint=[str(Checkpoint(2, events[1].mac))])
    assert f"Audit trail intact: 3 events; head checkpoint 3:{events[2].mac}." in capsys.readouterr().out


@pytest.mark.django_db
def test_no_code_path_changes_or_deletes_an_event():
    event = _three_events()[0]
    event.outcome = "failed"
    changed, deleted = r"^Audit events are never changed\.$", r"^Audit events are never deleted\.$"
    with pytest.raises(AppendOnly, match=changed):
        event.save()
    with pytest.raises(AppendOnly, match=deleted):
        event.delete()
    with pytest.raises(AppendOnly, match=changed):
        AuditEvent.objects.filter(pk=event.pk).update(outcome="failed")
    with pytest.raises(AppendOnly, match=deleted):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).outcome == "succeeded"


@pytest.mark.django_db
def test_verify_audit_reports_a_changed_event():
    events = _three_events()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET details = %s WHERE id = %s", ['{"before": 9}', events[1].pk])
    assert first_break() == Break(2, "its content does not match its MAC (it was changed)")
    with pytest.raises(CommandError, match="broken at event 2"):
        call_command("verify_audit")


@pytest.mark.django_db
def test_verify_audit_reports_a_removed_event():
    events = _three_events()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    assert first_break() == Break(2, "event 2 is missing (the next is 3): events were removed")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "seal",
    [
        lambda e: hashlib.sha256(e.canonical().encode()).hexdigest(),  # the old, unkeyed chain
        lambda e: e.compute_mac(b"a guessed key"),
    ],
    ids=["sha256", "guessed-key"],
)
def test_rewriting_an_event_and_recomputing_every_later_link_without_the_key_is_caught(seal):
    events = _three_events()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET details = %s WHERE id = %s", ['{"before": 9}', events[1].pk])
    previous = events[0].mac
    for event in events[1:]:
        previous = _rewrite(event, previous, seal)
    assert first_break() == Break(2, "its content does not match its MAC (it was changed)")


@pytest.mark.django_db
def test_deleting_the_newest_events_is_caught_against_a_checkpoint(capsys):
    events = _three_events()
    taken = checkpoint()
    assert taken == Checkpoint(3, events[2].mac)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id IN (%s, %s)", [events[1].pk, events[2].pk])
    assert first_break() is None  # the chain alone cannot know what came after its head
    with pytest.raises(CommandError, match="the trail ends at event 1, but the checkpoint counts 3: the newest"):
        call_command("verify_audit", checkpoint=[str(taken)])


@pytest.mark.django_db
def test_a_trail_rewritten_after_a_checkpoint_differs_from_it():
    events = _three_events()
    assert first_break(Checkpoint(2, "f" * 64)) == Break(
        2, "it differs from the checkpoint's MAC (the trail was rewritten since)"
    )
    assert first_break(Checkpoint(2, events[1].mac)) is None


@pytest.mark.django_db
def test_a_bad_checkpoint_is_refused_in_words():
    with pytest.raises(CommandError, match="a checkpoint is <count>:<64 hex digits>"):
        call_command("verify_audit", checkpoint=["3:abc"])


@pytest.mark.django_db
def test_a_rotated_key_still_verifies_the_events_it_sealed(settings):
    settings.AUDIT_KEY = "the first key"
    old = _three_events()
    settings.AUDIT_KEY, settings.AUDIT_PREVIOUS_KEYS = "the second key", ["the first key"]
    new = record(PORTAL, "sign-in", "", "succeeded")
    assert new.key_id != old[0].key_id and first_break() is None
    settings.AUDIT_PREVIOUS_KEYS = []
    assert first_break() == Break(1, f"it names key {old[0].key_id!r}, which is not configured (AUDIT_PREVIOUS_KEYS?)")


@pytest.mark.django_db
def test_a_checkpoint_goes_to_the_log_every_so_many_events(settings, caplog):
    settings.AUDIT_CHECKPOINT_EVERY = 2
    with caplog.at_level(logging.INFO, logger="audit.checkpoint"):
        events = _three_events()
    assert [r.getMessage() for r in caplog.records] == [f"audit checkpoint 2:{events[1].mac}"]


@pytest.mark.django_db
def test_an_event_records_who_from_where_and_about_which_scopes(django_user_model):
    alice = django_user_model.objects.create(username="t/a", tenant_id="t", object_id="a", upn="alice@contoso.com")
    target = (
        f"/subscriptions/{SUB.upper()}/resourceGroups/rg-Web/providers/Microsoft.Compute/virtualMachines/a "
        f"/subscriptions/{SUB}/resourceGroups/rg-db/providers/Microsoft.Compute/virtualMachines/b"
    )
    event = record(
        Actor(alice, {}, "203.0.113.7", channel="api"),
        "jit.request",
        target,
        "succeeded",
        details={"ports": [22]},
        correlation_id="c-1",
    )
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.actor_id, stored.actor_name, stored.source_ip, stored.correlation_id, stored.details) == (
        alice.pk,
        "alice@contoso.com",
        "203.0.113.7",
        "c-1",
        {"ports": [22], "channel": "api"},
    )
    assert (stored.action, stored.target, stored.outcome) == ("jit.request", target, "succeeded")
    assert (stored.seq, stored.previous_mac, stored.key_id) == (1, GENESIS, key_id(next(iter(keys().values()))))
    assert stored.mac == stored.compute_mac(next(iter(keys().values())))
    assert {(s.subscription_id, s.resource_group) for s in stored.scopes.all()} == {(SUB, "rg-web"), (SUB, "rg-db")}


@pytest.mark.django_db
def test_an_address_that_is_not_one_is_not_recorded_as_one():
    assert record(Actor(None, {}, "unknown"), "sign-in", "", "failed").source_ip is None
    assert record(Actor(None, {}, "2001:DB8::1"), "sign-in", "", "failed").source_ip == "2001:db8::1"
    assert (record(PORTAL, "sign-in", "", "failed").actor_name, AuditEvent.objects.first().correlation_id) == ("", "")
    assert record(Actor(None, {}, ""), "sign-in", "", "failed").details == {"channel": "web"}
    assert AuditScope.objects.count() == 0


@pytest.mark.django_db
def test_an_empty_trail_is_at_its_genesis_and_holds_against_it(caplog):
    assert checkpoint() == Checkpoint(0, GENESIS)
    assert first_break() is None and first_break(Checkpoint(0, GENESIS)) is None
    with caplog.at_level(logging.INFO, logger="audit.checkpoint"):
        assert log_checkpoint() == Checkpoint(0, GENESIS)
    assert [r.getMessage() for r in caplog.records] == [f"audit checkpoint 0:{GENESIS}"]


@pytest.mark.django_db
def test_a_trail_short_of_its_checkpoint_says_where_it_ends():
    events = _three_events()
    assert first_break(Checkpoint(4, events[2].mac)) == Break(
        4, "the trail ends at event 3, but the checkpoint counts 4: the newest events were removed"
    )
    assert first_break(Checkpoint(3, events[2].mac)) is None
    assert first_break(Checkpoint(1, events[0].mac)) is None
    assert first_break(Checkpoint(1, events[1].mac)) == Break(
        1, "it differs from the checkpoint's MAC (the trail was rewritten since)"
    )


@pytest.mark.django_db
def test_a_relinked_event_breaks_at_its_link_even_when_resealed_with_the_key():
    events = _three_events()
    key = next(iter(keys().values()))
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET previous_mac = %s WHERE id = %s", [GENESIS, events[1].pk])
        relinked = AuditEvent.objects.get(pk=events[1].pk)
        cursor.execute("UPDATE audit_auditevent SET mac = %s WHERE id = %s", [relinked.compute_mac(key), events[1].pk])
    assert first_break() == Break(2, "its link does not match the event before it (an event was removed or inserted)")


@pytest.mark.django_db
def test_the_first_event_must_start_the_chain():
    events = _three_events()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [events[0].pk])
    assert first_break() == Break(1, "event 1 is missing (the next is 2): events were removed")
