from django.db import migrations


class Migration(migrations.Migration):
    """Regional webhooks and their deliveries (filled in by that work)."""

    dependencies = [("replication", "0003_image_replication")]

    operations = []
