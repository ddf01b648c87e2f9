"""A download opens as a table (its header on line 1) and travels with a signed evidence manifest that
`verify_export` checks it against: a changed byte, row or manifest fails."""

from __future__ import annotations

import csv
import json

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from audit import csv_export
from core.actor import PORTAL
from tests.audit.downloads import csv_download
from trail.chain import record

pytestmark = pytest.mark.django_db


@pytest.fixture
def auditor(client, django_user_model, monkeypatch):
    from audit import views

    monkeypatch.setattr(views, "_scope", lambda request: views.ReadScope(frozenset()))
    person = django_user_model.objects.create(username="t/a", tenant_id="t", object_id="a", upn="a@contoso.test")
    person.groups.add(Group.objects.get_or_create(name="JIT.Auditor")[0])
    client.force_login(person)
    for i in range(3):
        record(
            PORTAL,
            "jit.edit",
            f"/policy/{i}",
            "succeeded",
            details={"request": i, "roles": ["JIT.Auditor"], "comment": "ok, =1+1"},
        )
    return client


@pytest.fixture
def downloaded(auditor, tmp_path):
    data, rows, manifest = csv_download(auditor, "/audit/trail.csv", {"action": "jit.edit"})
    (tmp_path / "trail.csv").write_bytes(data)
    (tmp_path / "trail.csv.manifest.json").write_text(json.dumps(manifest))
    return tmp_path / "trail.csv", tmp_path / "trail.csv.manifest.json", rows, manifest


def test_its_header_is_line_one_for_pythons_csv_module(downloaded):
    path, _, rows, manifest = downloaded
    with open(path, newline="", encoding="utf-8-sig") as file:
        assert next(csv.reader(file)) == csv_export.TRAIL_COLUMNS
    assert len(rows) == manifest["rows"] == 3 and rows[0]["Action"] == "jit.edit"


def test_the_trails_details_are_json_in_the_file(downloaded):
    rows = downloaded[2]
    details = json.loads(rows[0]["Details"])
    assert (details["comment"], details["request"], details["roles"]) == ("ok, =1+1", 2, ["JIT.Auditor"])


def test_the_manifest_says_what_was_asked_and_is_signed(downloaded):
    path, _, _, manifest = downloaded
    assert manifest["asked"] == {"path": "/audit/trail.csv", "filters": {"action": "jit.edit"}}
    assert manifest["generated_by"] == "a@contoso.test" and manifest["media_type"] == "text/csv"
    assert manifest["bytes"] == len(path.read_bytes()) and len(manifest["signature"]) == 64
    assert manifest["checkpoint"].startswith("4:")  # the three events and the download itself


def test_verify_export_passes_the_file_as_downloaded(downloaded, capsys):
    path, manifest_path, _, _ = downloaded
    call_command("verify_export", str(path), str(manifest_path))
    assert "trail.csv matches its manifest: 3 rows" in capsys.readouterr().out


@pytest.mark.parametrize(
    "tamper",
    [
        lambda data: data.replace(b"jit.edit", b"jit.edjt", 1),  # a cell changed
        lambda data: data[: data.rindex(b"\r\n", 0, len(data) - 2) + 2],  # the last row dropped
        lambda data: data + b"x,y\r\n",  # a row added
    ],
)
def test_verify_export_fails_a_tampered_csv(downloaded, tamper):
    path, manifest_path, _, _ = downloaded
    path.write_bytes(tamper(path.read_bytes()))
    with pytest.raises(CommandError, match="does not match its manifest: the file's SHA-256 differs"):
        call_command("verify_export", str(path), str(manifest_path))


def test_verify_export_fails_a_manifest_rewritten_to_match_a_tampered_csv(downloaded):
    import hashlib

    path, manifest_path, _, manifest = downloaded
    data = path.read_bytes().replace(b"jit.edit", b"jit.edjt", 1)
    path.write_bytes(data)
    manifest_path.write_text(json.dumps({**manifest, "sha256": hashlib.sha256(data).hexdigest()}))
    with pytest.raises(CommandError, match="the manifest's signature does not hold"):
        call_command("verify_export", str(path), str(manifest_path))


def test_another_person_cannot_fetch_a_manifest(auditor, client, django_user_model):
    response = auditor.get("/audit/trail.csv")
    b"".join(response.streaming_content)
    url = response["Link"].split(">")[0][1:]
    other = django_user_model.objects.create(username="t/b", tenant_id="t", object_id="b", upn="b@contoso.test")
    other.groups.add(Group.objects.get_or_create(name="JIT.Auditor")[0])
    client.force_login(other)
    assert client.get(url).status_code == 404


def test_a_download_cut_short_has_no_manifest(auditor):
    response = auditor.get("/audit/trail.csv")
    next(iter(response.streaming_content))  # the browser went away after the first piece
    url = response["Link"].split(">")[0][1:]
    assert auditor.get(url).status_code == 404


def test_verify_export_reads_the_portals_copy_by_its_id_or_address(downloaded, capsys):
    path, _, _, manifest = downloaded
    from audit.models import ExportManifest

    manifest_id = str(ExportManifest.objects.get(filename="portal-audit-trail.csv").pk)
    call_command("verify_export", str(path), manifest_id)
    call_command("verify_export", str(path), f"https://jit.example.com/audit/manifests/{manifest_id}.json")
    assert capsys.readouterr().out.count("matches its manifest: 3 rows") == 2


def test_the_archives_purge_takes_manifests_and_verify_export_says_one_is_gone(downloaded, settings, capsys):
    from datetime import timedelta

    from django.utils import timezone

    from audit.archive import purge
    from audit.models import ExportManifest

    path, manifest_path, _, _ = downloaded
    old = ExportManifest.objects.get(filename="portal-audit-trail.csv")
    ExportManifest.objects.filter(pk=old.pk).update(
        created=timezone.now() - timedelta(days=settings.AUDIT_RETENTION_DAYS + 1)
    )
    kept = ExportManifest.objects.create(user=old.user, filename="recent.csv")
    purge(PORTAL)
    assert list(ExportManifest.objects.values_list("pk", flat=True)) == [kept.pk]
    with pytest.raises(
        CommandError,
        match=rf"Manifest {old.pk} is gone: .* purged with the archive after "
        rf"AUDIT_RETENTION_DAYS \({settings.AUDIT_RETENTION_DAYS}\) days; the last "
        r"purge \(.*\) deleted those created before .*saved beside it",
    ):
        call_command("verify_export", str(path), str(old.pk))
    call_command("verify_export", str(path), str(manifest_path))  # the file saved beside it still verifies
    assert "matches its manifest" in capsys.readouterr().out
    with pytest.raises(CommandError, match="was never sealed: its download was cut short"):
        call_command("verify_export", str(path), str(kept.pk))
