from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("requests_app", "0001_initial")]

    operations = [
        migrations.AddField(model_name="accessrequestitem", name="mapped_port",
                            field=models.PositiveIntegerField(blank=True, null=True)),
    ]
