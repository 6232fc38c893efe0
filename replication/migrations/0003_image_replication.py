from django.db import migrations


class Migration(migrations.Migration):
    """Event intake, per-image replication status and reconcile runs (filled in by that work)."""

    dependencies = [("replication", "0002_seed_catalog")]

    operations = []
