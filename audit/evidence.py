"""Evidence manifests: what a download was asked for and covers, how many rows it holds and the SHA-256 of its
bytes, with the trail's checkpoint after it, sealed with the trail's key (`trail.chain.seal`).

The file itself stays a plain table (its header on line 1, as every spreadsheet, `csv.DictReader` and SIEM
importer expects); the manifest travels beside it: the download's answer names it in a `Link` header
(rel="describedby"), the page lists the person's own, and `manage.py verify_export FILE MANIFEST` checks one
against the other."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.urls import reverse
from django.utils import timezone

from trail.chain import log_checkpoint, seal

from .models import ExportManifest

KEEP = 20  # manifests listed to their owner on the audit pages


@dataclass(frozen=True)
class Coverage:
    """What a file (or a page) covers, in values: the manifest keeps them, the page says them in words."""

    subscriptions: list[str]  # included
    not_applied: list[str] = field(default_factory=list)  # filters ignored, with why
    unread: list[tuple[str, str]] = field(default_factory=list)  # (subscription, why) not read from Azure just now
    collected: list[tuple[str, datetime | None]] = field(default_factory=list)  # archive collected up to
    hidden: int = 0  # rows the viewer's Azure read scope hides

    def as_json(self) -> dict:
        return {
            "subscriptions": self.subscriptions,
            "filters_not_applied": self.not_applied,
            "not_read_from_azure": [{"subscription": name, "why": why} for name, why in self.unread],
            "archive_collected_up_to": {name: until and _iso(until) for name, until in self.collected},
            "rows_hidden_by_read_scope": self.hidden,
        }


class Counted:
    """The rows of a file, counted as they pass (the manifest says how many the file holds)."""

    def __init__(self, rows: Iterable) -> None:
        self._rows, self.count = rows, 0

    def __iter__(self) -> Iterator:
        for row in self._rows:
            self.count += 1
            yield row


def begin(user, filename: str) -> ExportManifest:
    return ExportManifest.objects.create(user=user, filename=filename)


def url(manifest: ExportManifest) -> str:
    return reverse("audit-manifest", args=[manifest.pk])


def written(
    pieces: Iterable[str], manifest: ExportManifest, asked: dict, coverage: Coverage, rows: Counted, media_type: str
) -> Iterator[bytes]:
    """The file's bytes as they stream; once the last has gone, its manifest is sealed and saved (a download cut
    short leaves none: it describes a whole file or nothing)."""
    digest, size = hashlib.sha256(), 0
    for piece in pieces:
        data = piece.encode()
        digest.update(data)
        size += len(data)
        yield data
    head = log_checkpoint()  # after the download went on the trail, so the checkpoint covers it
    manifest.document = seal(
        {
            "manifest_version": 1,
            "file": manifest.filename,
            "media_type": media_type,
            "bytes": size,
            "sha256": digest.hexdigest(),
            "rows": rows.count,
            "asked": asked,
            "coverage": coverage.as_json(),
            "checkpoint": str(head),
            "generated_at": _iso(timezone.now()),
            "generated_by": getattr(manifest.user, "upn", "") or manifest.user.get_username(),
        }
    )
    manifest.save(update_fields=["document"])


def recent(user) -> list[ExportManifest]:
    return list(ExportManifest.objects.filter(user=user, document__isnull=False).order_by("-created")[:KEEP])


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
