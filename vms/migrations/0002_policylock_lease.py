from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("vms", "0001_initial")]

    operations = [
        migrations.AddField(model_name="policylock", name="holder", field=models.CharField(blank=True, max_length=32)),
        migrations.AddField(model_name="policylock", name="holder_name",
                            field=models.CharField(blank=True, max_length=254)),
        migrations.AddField(model_name="policylock", name="expires", field=models.DateTimeField(blank=True, null=True)),
    ]
