import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('jitportal', '0002_notification_moved_to_core'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    # The table the project's first migration made (state only): Notification moved here.
    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.CreateModel(
                name='Notification',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('created', models.DateTimeField(default=django.utils.timezone.now)),
                    ('kind', models.CharField(max_length=40)),
                    ('channel', models.CharField(choices=[('email', 'e-mail'), ('webhook', 'webhook')], max_length=10)),
                    ('address', models.CharField(max_length=1000)),
                    ('subject', models.CharField(max_length=255)),
                    ('body', models.TextField()),
                    ('link', models.CharField(blank=True, max_length=1000)),
                    ('request_id', models.PositiveBigIntegerField(blank=True, db_index=True, null=True)),
                    ('status', models.CharField(choices=[('queued', 'queued'), ('sent', 'sent'), ('failed', 'failed')], default='queued', max_length=10)),
                    ('attempts', models.PositiveSmallIntegerField(default=0)),
                    ('next_attempt_at', models.DateTimeField(default=django.utils.timezone.now)),
                    ('last_error', models.CharField(blank=True, max_length=300)),
                    ('sent_at', models.DateTimeField(blank=True, null=True)),
                    ('claimed_by', models.CharField(blank=True, max_length=32)),
                    ('claimed_until', models.DateTimeField(blank=True, null=True)),
                    ('recipient_user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='notifications', to=settings.AUTH_USER_MODEL)),
                ],
                options={
                    'db_table': 'jitportal_notification',
                    'ordering': ['created', 'pk'],
                    'indexes': [models.Index(fields=['status', 'next_attempt_at'], name='notification_due')],
                },
            ),
        ]),
    ]
