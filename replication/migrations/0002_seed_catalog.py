from django.db import migrations


def seed(apps, schema_editor):
    from replication.catalog import catalog_seed

    catalog_seed(apps)


class Migration(migrations.Migration):
    dependencies = [("replication", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
