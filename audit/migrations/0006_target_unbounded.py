# The trail names every policy a request spans: three policy ids outgrew 400 characters (a 500 on PostgreSQL).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0005_outcome_words'),
    ]

    operations = [
        migrations.AlterField(
            model_name='auditevent',
            name='target',
            field=models.TextField(blank=True),
        ),
    ]
