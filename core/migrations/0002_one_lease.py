# The one lease primitive (core.Lease) replaces the outbox's row claims; leases are short-lived, none is carried over.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='Lease',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=400, unique=True)),
                ('holder', models.CharField(blank=True, max_length=32)),
                ('holder_name', models.CharField(blank=True, max_length=254)),
                ('expires', models.DateTimeField(blank=True, null=True)),
                ('claims', models.PositiveIntegerField(default=0)),
            ],
        ),
        migrations.RemoveField(
            model_name='notification',
            name='claimed_by',
        ),
        migrations.RemoveField(
            model_name='notification',
            name='claimed_until',
        ),
    ]
