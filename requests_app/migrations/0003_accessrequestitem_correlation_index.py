from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("requests_app", "0002_accessrequestitem_mapped_port")]

    operations = [
        migrations.AlterField(model_name="accessrequestitem", name="correlation_id",
                              field=models.CharField(blank=True, db_index=True, max_length=64)),
    ]
