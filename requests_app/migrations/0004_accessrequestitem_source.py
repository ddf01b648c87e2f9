from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("requests_app", "0003_accessrequestitem_correlation_index")]

    operations = [
        migrations.AddField(model_name="accessrequestitem", name="source",
                            field=models.CharField(blank=True, max_length=64)),
    ]
