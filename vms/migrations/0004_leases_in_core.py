# Policy leases are core.Lease rows now (short-lived: none is carried over).

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('vms', '0003_seen_scope'),
    ]

    operations = [
        migrations.DeleteModel(
            name='PolicyLock',
        ),
    ]
