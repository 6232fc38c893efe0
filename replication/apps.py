from django.apps import AppConfig
from django.db.models.signals import post_migrate


def cache_table_create(*, using: str, **kwargs) -> None:
    """`migrate` also creates the database cache's table (sign-in throttling keeps its counts there)."""
    from django.core.management import call_command

    call_command("createcachetable", database=using, verbosity=0)  # a no-op when it exists


class ReplicationConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "replication"
    verbose_name = "Geo-replication"

    def ready(self):
        post_migrate.connect(cache_table_create, sender=self, dispatch_uid="replication.cache_table_create")
