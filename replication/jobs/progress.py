"""A running job's progress and heartbeat, written from one thread."""
import threading
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from ..choices import JobState
from ..models import ReplicationJob


@dataclass(frozen=True)
class EarlierAttempts:
    """What the job's earlier attempts copied (as last recorded on its row): a retry, or a job requeued after
    its worker died, starts its engine's counters at zero, and the row counts every attempt's bytes."""

    bytes_done: int = 0
    blobs_done: int = 0

    @classmethod
    def of(cls, job: ReplicationJob) -> "EarlierAttempts":
        return cls(bytes_done=job.bytes_done, blobs_done=job.blobs_done)

    def fields(self, progress) -> dict:
        """The row's counters for this attempt's engine progress: done and total include the earlier attempts."""
        return {
            "manifests_total": progress.manifests_total,
            "manifests_done": progress.manifests_done,
            "blobs_total": self.blobs_done + progress.blobs_total,
            "blobs_done": self.blobs_done + progress.blobs_done,
            "bytes_total": self.bytes_done + progress.bytes_total,
            "bytes_done": self.bytes_done + progress.bytes_done,
        }


class ProgressRecorder:
    """Writes the copy engine's latest progress to the job row from one thread, at most every `interval` s.

    The engine reports from its transfer threads; funnelling writes through one thread keeps
    the cost to one small UPDATE per interval and one database connection per job. Each write
    is also the job's heartbeat, by which a dead worker's job is found.
    """

    def __init__(self, job_id: int, interval: float = 0.5, *, earlier: EarlierAttempts = EarlierAttempts()):
        self.job_id = job_id
        self.earlier = earlier
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
            **self.earlier.fields(progress), heartbeat_at=timezone.now())
