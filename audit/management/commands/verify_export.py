"""`manage.py verify_export FILE MANIFEST`: check a downloaded CSV (or JSON lines) file against its evidence
manifest — the manifest's seal under the trail's key, the file's SHA-256, byte and row counts — and that the trail
still reaches the manifest's checkpoint. Exit 1 at the first thing that does not hold.

MANIFEST is the manifest file saved with the download, or its id (or its address, `…/audit/manifests/<id>.json`) to
read the portal's own copy; that copy is purged with the archive (AUDIT_RETENTION_DAYS), and the command says so."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audit.models import ExportManifest
from trail.chain import Checkpoint, first_break, seal_holds
from trail.models import AuditEvent

MANIFEST_ID = re.compile(
    r"(?:^|/manifests/)(?P<id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
    r"(?:\.json)?/?$",
    re.IGNORECASE,
)


def manifest_named(given: str) -> dict:
    """The manifest a file holds, or the portal's own copy of the one this id (or address) names."""
    path = Path(given)
    if path.is_file() or not MANIFEST_ID.search(given):
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot read the manifest {given}: {exc}.") from None
    manifest_id = MANIFEST_ID.search(given)["id"].lower()
    found = ExportManifest.objects.filter(pk=manifest_id).first()
    if found is None:
        raise CommandError(gone(manifest_id))
    if found.document is None:
        raise CommandError(
            f"Manifest {manifest_id} was never sealed: its download was cut short, so it describes no file."
        )
    return found.document


def gone(manifest_id: str) -> str:
    """Why the portal holds no manifest by that id, in words: purged with the archive, or never one of its own."""
    purge = AuditEvent.objects.filter(action="archive.purge").order_by("-seq").first()
    why = (
        f"the last purge ({purge.created:%Y-%m-%d %H:%M} UTC) deleted those created before "
        f"{str(purge.details.get('cutoff', '?'))[:16].replace('T', ' ')} UTC"
        if purge
        else "no purge has run yet, so this portal never made one by that id (check it)"
    )
    return (
        f"Manifest {manifest_id} is gone: this portal no longer holds a manifest by that id. Manifests are purged "
        f"with the archive after AUDIT_RETENTION_DAYS ({settings.AUDIT_RETENTION_DAYS}) days; {why}. Verify the "
        "file against the manifest saved beside it when it was downloaded (<file>.manifest.json)."
    )


def rows_in(data: bytes, media_type: str) -> int:
    """Records in the file as a tool reads them: CSV rows under the header on line 1, or JSON lines."""
    text = data.decode("utf-8-sig")
    if media_type == "application/x-ndjson":
        return sum(1 for line in text.splitlines() if line.strip())
    return sum(1 for _ in csv.DictReader(io.StringIO(text, newline="")))


def problems(data: bytes, manifest: dict) -> list[str]:
    found = []
    if not seal_holds(manifest):
        found.append("the manifest's signature does not hold (changed, or sealed by a key this portal does not hold)")
    if hashlib.sha256(data).hexdigest() != manifest.get("sha256"):
        found.append("the file's SHA-256 differs from the manifest's: the file was changed")
    if len(data) != manifest.get("bytes"):
        found.append(f"the file has {len(data)} bytes, the manifest says {manifest.get('bytes')}")
    try:
        rows = rows_in(data, manifest.get("media_type", "text/csv"))
    except (UnicodeDecodeError, csv.Error):
        found.append("the file cannot be read as its media type")
    else:
        if rows != manifest.get("rows"):
            found.append(f"the file holds {rows} rows, the manifest says {manifest.get('rows')}")
    return found


class Command(BaseCommand):
    help = "Verify a downloaded audit file against its evidence manifest; exit 1 when it does not hold."
    requires_system_checks: list[str] = []  # needs the database and the key, not Azure

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("manifest", help="the manifest file, or its id or address to read the portal's copy")

    def handle(self, *args, **options) -> None:
        try:
            data = options["file"].read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read the file: {exc}.") from None
        manifest = manifest_named(str(options["manifest"]))
        found = problems(data, manifest)
        if not found:
            try:
                broken = first_break(Checkpoint.parse(str(manifest.get("checkpoint", ""))))
            except ValueError as exc:
                broken = None
                found.append(f"checkpoint: {exc}")
            if broken is not None:
                found.append(f"the audit trail no longer holds at event {broken.seq}: {broken.why}")
        if found:
            raise CommandError(f"{options['file'].name} does not match its manifest: " + "; ".join(found) + ".")
        self.stdout.write(
            f"{options['file'].name} matches its manifest: {manifest['rows']} rows, "
            f"sha256 {manifest['sha256']}, generated {manifest['generated_at']} by "
            f"{manifest['generated_by']}; the trail holds up to checkpoint {manifest['checkpoint']}."
        )
