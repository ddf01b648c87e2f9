from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0006_target_unbounded'),
    ]

    # The trail's models moved to the `trail` app; their tables stay as they are (state only).
    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.RemoveField(
                model_name='auditscope',
                name='event',
            ),
            migrations.DeleteModel(
                name='AuditEvent',
            ),
            migrations.DeleteModel(
                name='AuditScope',
            ),
        ]),
    ]
