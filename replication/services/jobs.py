"""ReplicationJob state changes: every one goes through job_transition's conditional UPDATE."""
import os
import socket
import threading

from django.db import connection, transaction
from django.utils import timezone

from ..choices import JOB_TRANSITIONS, JobState
from ..models import ReplicationJob
from ..queues import region_queue

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


def job_transition(*, job_id: int, to: JobState, **fields) -> bool:
    """Move a job to `to` only from a state that allows it; False when another actor got there first."""
    allowed_from = [state for state, targets in JOB_TRANSITIONS.items() if to in targets]
    now = timezone.now()
    if to == JobState.RUNNING:
        fields.setdefault("started_at", now)
        fields.setdefault("heartbeat_at", now)
    if JobState(to).is_final:
        fields.setdefault("finished_at", now)
    return bool(ReplicationJob.objects.filter(pk=job_id, state__in=allowed_from).update(state=to, **fields))


def job_enqueue(job: ReplicationJob) -> None:
    """Send the job's task to its region's queue once the surrounding transaction commits."""
    from ..tasks import run_replication_job

    def send():
        result = run_replication_job.apply_async(kwargs={"job_id": job.pk}, queue=region_queue(job.region.name))
        ReplicationJob.objects.filter(pk=job.pk).update(celery_task_id=result.id or "")

    transaction.on_commit(send)


class ProgressRecorder:
    """Writes the copy engine's latest progress to the job row from one thread, at most every `interval` s.

    The engine reports from its transfer threads; funnelling writes through one thread keeps
    the cost to one small UPDATE per interval and one database connection per job.
    """

    def __init__(self, job_id: int, interval: float = 0.5):
        self.job_id = job_id
        self.interval = interval
        self._latest = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"progress-{job_id}", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._flush()

    def __call__(self, progress) -> None:
        with self._lock:
            self._latest = progress

    def _loop(self):
        try:
            while not self._stop.wait(self.interval):
                self._flush()
        finally:
            connection.close()

    def _flush(self):
        with self._lock:
            progress, self._latest = self._latest, None
        if progress is None:
            return
        ReplicationJob.objects.filter(pk=self.job_id, state=JobState.RUNNING).update(
            manifests_total=progress.manifests_total,
            manifests_done=progress.manifests_done,
            blobs_total=progress.blobs_total,
            blobs_done=progress.blobs_done,
            bytes_total=progress.bytes_total,
            bytes_done=progress.bytes_done,
            heartbeat_at=timezone.now(),
        )
