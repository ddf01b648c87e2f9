from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('jitportal', '0001_notification'),
    ]

    # Notification moved to the `core` app; its table stays as it is (state only).
    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.DeleteModel(
                name='Notification',
            ),
        ]),
    ]
