import os

from celery import Celery
from celery.signals import worker_init, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@worker_process_init.connect
def tune_copy_engine(**_):
    """Workers copy blobs: give the engine its larger socket reads.

    worker_init covers the solo and thread pools (and prefork children forked after it);
    worker_process_init covers each prefork child however it was started.
    """
    from replication.oci import tune_socket_reads

    tune_socket_reads()
