"""Thin Celery tasks: take ids, call the jobs runner or one service. Sent by name (dispatch.py)."""
from celery import shared_task
from celery.signals import worker_ready

from .jobs import runner
from .retry import retry_policy
from .services import events, image_status, reconcile, retention, scrub, self_repair, webhooks


@shared_task(bind=True, acks_late=True, max_retries=None, name="replication.tasks.run_replication_job")
def run_replication_job(self, *, job_id: int):
    result = runner.job_run(job_id=job_id, retries_done=self.request.retries)
    if result.retry_in is not None:
        raise self.retry(countdown=result.retry_in)


@worker_ready.connect
def requeue_orphaned_jobs(sender=None, **kwargs):
    # A worker that was killed left its jobs "running" and its messages possibly lost.
    runner.jobs_recover()


@shared_task(bind=True, acks_late=True, max_retries=None, name="replication.tasks.deliver_webhook")
def deliver_webhook(self, *, delivery_id: int):
    """One attempt per run; the service logs it and says how long to wait before the next one."""
    countdown = webhooks.webhook_delivery_attempt(delivery_id=delivery_id)
    if countdown is not None:
        raise self.retry(countdown=countdown)


@shared_task(bind=True, acks_late=True, max_retries=None, name="replication.tasks.process_registry_events")
def process_registry_events(self, *, event_ids: list[int]):
    """Fan recorded registry events out to the other replicas (each event acts once)."""
    try:
        events.events_process(event_ids=event_ids)
    except Exception as exc:
        policy = retry_policy("EVENTS")
        if not policy.may_retry(self.request.retries):
            raise
        raise self.retry(countdown=policy.countdown(self.request.retries), exc=exc)


@shared_task(name="replication.tasks.reconcile_replicas")
def reconcile_replicas():
    """The periodic repair loop: resend lost work, then level every geo-replicated registry."""
    runner.lost_work_recover()
    reconcile.registries_reconcile()


@shared_task(name="replication.tasks.refresh_degraded_replicas")
def refresh_degraded_replicas():
    image_status.replica_refresh_degraded()


@shared_task(name="replication.tasks.probe_region_health")
def probe_region_health():
    """Record every deployed region's health, then self-repair; beat sends it every REGION_HEALTH_INTERVAL s."""
    self_repair.health_probe_and_repair()


@shared_task(name="replication.tasks.prune_history")
def prune_history():
    """Retention: prune old events, jobs, deliveries and reconcile runs; beat sends it every RETENTION_INTERVAL_SECONDS."""
    retention.history_prune()


@shared_task(name="replication.tasks.scrub_replicas")
def scrub_replicas():
    """Queue the scrub of one replica that is due (SCRUB_INTERVAL_SECONDS); beat sends it every few minutes."""
    scrub.scrub_due_queue()
