import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('audit', '0007_trail_moved_to_its_app'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    # The tables audit's migrations made (state only): the trail moved here from `audit`.
    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.CreateModel(
                name='AuditEvent',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('seq', models.PositiveBigIntegerField(unique=True)),
                    ('created', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                    ('actor_name', models.CharField(blank=True, max_length=254)),
                    ('action', models.CharField(db_index=True, max_length=40)),
                    ('target', models.TextField(blank=True)),
                    ('outcome', models.CharField(max_length=40)),
                    ('source_ip', models.GenericIPAddressField(blank=True, null=True)),
                    ('correlation_id', models.CharField(blank=True, db_index=True, max_length=64)),
                    ('details', models.JSONField(blank=True, default=dict)),
                    ('key_id', models.CharField(max_length=16)),
                    ('previous_mac', models.CharField(max_length=64)),
                    ('mac', models.CharField(max_length=64, unique=True)),
                    ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ],
                options={
                    'db_table': 'audit_auditevent',
                    'ordering': ['-seq'],
                },
            ),
            migrations.CreateModel(
                name='AuditScope',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('subscription_id', models.CharField(max_length=36)),
                    ('resource_group', models.CharField(max_length=90)),
                    ('event', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='scopes', to='trail.auditevent')),
                ],
                options={
                    'db_table': 'audit_auditscope',
                    'indexes': [models.Index(fields=['subscription_id', 'resource_group'], name='audit_audit_subscri_eb6003_idx')],
                },
            ),
        ]),
    ]
