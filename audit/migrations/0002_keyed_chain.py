"""The trail's chain becomes keyed: events get their number and the id of the key that seals them, and the
existing chain, checked link by link as it was (plain SHA-256), is sealed again under the current key."""

import hashlib
import json

from django.db import migrations, models


def _legacy_hash(event) -> str:
    return hashlib.sha256(json.dumps({
        "created": event.created.isoformat(), "actor": event.actor_id, "actor_name": event.actor_name,
        "action": event.action, "target": event.target, "outcome": event.outcome, "source_ip": event.source_ip,
        "correlation_id": event.correlation_id, "details": event.details, "previous_hash": event.previous_mac,
    }, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def seal(apps, schema_editor) -> None:
    from trail.models import AuditEvent as Current
    from core.gateway.ids import scopes_in
    from trail.chain import GENESIS, keys

    kid, key = next(iter(keys().items()))
    previous_legacy, previous = GENESIS, GENESIS
    for seq, event in enumerate(apps.get_model("audit", "AuditEvent").objects.order_by("id"), start=1):
        if event.previous_mac != previous_legacy or _legacy_hash(event) != event.mac:
            raise RuntimeError(f"The audit trail is broken at event {event.id}; it is not sealed over. Restore it.")
        previous_legacy = event.mac
        sealed = Current(**{f.attname: getattr(event, f.attname) for f in Current._meta.concrete_fields
                            if hasattr(event, f.attname)})
        sealed.seq, sealed.key_id, sealed.previous_mac = seq, kid, previous
        sealed.mac = previous = sealed.compute_mac(key)
        type(event).objects.filter(pk=event.pk).update(seq=seq, key_id=kid, previous_mac=sealed.previous_mac,
                                                       mac=sealed.mac)
        apps.get_model("audit", "AuditScope").objects.bulk_create(
            apps.get_model("audit", "AuditScope")(event_id=event.pk, subscription_id=sub, resource_group=rg)
            for sub, rg in scopes_in(event.target))


class Migration(migrations.Migration):

    dependencies = [("audit", "0001_initial")]

    operations = [
        migrations.RenameField("auditevent", "hash", "mac"),
        migrations.RenameField("auditevent", "previous_hash", "previous_mac"),
        migrations.AddField("auditevent", "seq", models.PositiveBigIntegerField(null=True)),
        migrations.AddField("auditevent", "key_id", models.CharField(default="", max_length=16), preserve_default=False),
        migrations.CreateModel(
            name="AuditScope",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("subscription_id", models.CharField(max_length=36)),
                ("resource_group", models.CharField(max_length=90)),
                ("event", models.ForeignKey(on_delete=models.deletion.CASCADE, related_name="scopes",
                                            to="audit.auditevent")),
            ],
            options={"indexes": [models.Index(fields=["subscription_id", "resource_group"],
                                              name="audit_audit_subscri_eb6003_idx")]},
        ),
        migrations.RunPython(seal, migrations.RunPython.noop),
        migrations.AlterField("auditevent", "seq", models.PositiveBigIntegerField(unique=True)),
        migrations.AlterModelOptions("auditevent", {"ordering": ["-seq"]}),
    ]
