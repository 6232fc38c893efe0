"""Thin Celery tasks: take ids, call one service. Routed per call to the target region's queue."""
from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings

from .services import content, replication


@shared_task(bind=True, acks_late=True, max_retries=None)
def run_replication_job(self, *, job_id: int):
    try:
        replication.replication_job_run(job_id=job_id)
    except replication.RetryableReplicationError as exc:
        if self.request.retries >= settings.REPLICATION_MAX_RETRIES:
            replication.replication_job_fail(job_id=job_id, error=f"{exc} (gave up after {self.request.retries + 1} attempts)")
            return
        countdown = settings.REPLICATION_RETRY_BACKOFF * (2 ** self.request.retries)
        replication.replication_job_retry_later(job_id=job_id, error=str(exc), countdown=countdown)
        raise self.retry(countdown=countdown) from exc


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def delete_replica(*, replica_id: int):
    content.replica_purge(replica_id=replica_id)


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def purge_region_content(*, region_id: int, repository_prefix: str):
    content.region_purge_prefix(region_id=region_id, repository_prefix=repository_prefix)


@worker_ready.connect
def requeue_orphaned_jobs(sender=None, **kwargs):
    # A worker that was killed left its jobs "running" and its messages possibly lost.
    replication.replication_jobs_recover()


# Regional webhooks


@shared_task(bind=True, acks_late=True, max_retries=None)
def deliver_webhook(self, *, delivery_id: int):
    """One attempt per run; the service logs it and says how long to wait before the next one."""
    from .services.webhooks import webhook_delivery_attempt

    countdown = webhook_delivery_attempt(delivery_id=delivery_id)
    if countdown is not None:
        raise self.retry(countdown=countdown)


# Continuous replication


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def process_registry_events(*, event_ids: list[int]):
    """Fan recorded registry events out to the other replicas (each event acts once)."""
    from .services.events import events_process

    events_process(event_ids=event_ids)


@shared_task
def reconcile_replicas():
    """The periodic repair loop: requeue stale jobs and deliveries, then level every geo-replicated registry."""
    from .services.reconcile import registries_reconcile
    from .services.webhooks import webhook_deliveries_recover

    replication.replication_jobs_recover()
    webhook_deliveries_recover()
    registries_reconcile()


@shared_task
def refresh_degraded_replicas():
    from .services.image_status import replica_refresh_degraded

    replica_refresh_degraded()


# Region health


@shared_task
def probe_region_health():
    """Record every deployed region's health; beat sends it every REGION_HEALTH_INTERVAL seconds."""
    from .services.health import region_health_probe

    region_health_probe()
