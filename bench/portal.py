"""The whole path for the benchmark: POST /api/v1/registries/{name}/replicas/ until the replica is ready.

The portal runs in this process (Django's test client against a temporary SQLite database,
migrated from scratch); the copy runs in a real `celery worker` process consuming the
target region's queue through a filesystem broker in the same temporary directory.
Importing this module configures Django for that directory: do it before anything else
touches Django settings.
"""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from bench.environment import ROOT, Trial, embedded_defaults_env, process_tree_cpu
from replication.testing import wait_until

HOME_REGION = "westus"
TARGET_REGION = "eastus"
POLL_INTERVAL = 0.05  # seconds; the resolution of the measured time
REPLICA_READY_TIMEOUT = 3600  # seconds; far above any corpus here, so only a hang reaches it


class Portal:
    def __init__(self, directory: Path, *, concurrency: int):
        self.directory = directory
        self.concurrency = concurrency
        self.worker: subprocess.Popen | None = None
        self.env = embedded_defaults_env(directory, REPLICATION_CONCURRENCY=str(concurrency))
        self.registry = None

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        os.environ.update(self.env)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from django.contrib.auth import get_user_model

        self.user = get_user_model().objects.create_user("bench", is_staff=True)
        self.start_worker()

    def start_worker(self) -> None:
        from replication.management.commands.run_worker import worker_argv

        log_path = self.directory / "worker.log"
        argv = worker_argv(regions=[TARGET_REGION], concurrency=1, hostname=f"bench-{os.getpid()}@localhost")
        self.log = open(log_path, "ab")
        self.worker = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
                                       start_new_session=True)

        def worker_ready() -> bool:
            if b"ready." in log_path.read_bytes():
                return True
            if self.worker.poll() is not None:
                raise RuntimeError(f"the celery worker exited at start; see {log_path}")
            return False

        wait_until(worker_ready, timeout=60, interval=0.1, message=f"the celery worker to start; see {log_path}")

    def prepare(self, *, registry_name: str, home_url: str) -> None:
        """A Premium registry whose home region's registry is the benchmark's source."""
        from replication.models import Region, Registry
        from replication.services import registry_create

        Region.objects.filter(name=HOME_REGION).update(endpoint=home_url)
        self.registry = (Registry.objects.filter(name=registry_name).first()
                         or registry_create(name=registry_name, sku="Premium", home_region=HOME_REGION, owner=self.user))

    def replicate(self, target_url: str) -> Trial:
        """Time POST replicas/ → status ready with a fresh, empty registry as the target region."""
        from rest_framework.test import APIClient

        from replication.choices import ReplicaStatus
        from replication.models import Region, Replica, ReplicationJob

        # Forget the previous trial's replica: its registry is gone, a fresh one stands in.
        ReplicationJob.objects.filter(region__name=TARGET_REGION).delete()
        Replica.objects.filter(region__name=TARGET_REGION).delete()
        Region.objects.filter(name=TARGET_REGION).update(endpoint=target_url)
        client = APIClient()
        client.force_authenticate(self.user)

        cpu_before = self.worker_cpu()
        started = time.perf_counter()
        response = client.post(f"/api/v1/registries/{self.registry.name}/replicas/", {"region": TARGET_REGION},
                               format="json")
        if response.status_code != 202:
            raise RuntimeError(f"POST replicas/ answered {response.status_code}: {response.content[:500]!r}")

        def ready() -> bool:
            replica = Replica.objects.get(registry=self.registry, region__name=TARGET_REGION)
            if replica.status == ReplicaStatus.READY:
                return True
            if replica.status == ReplicaStatus.FAILED:
                raise RuntimeError(f"the replica failed: {replica.status_message}")
            if self.worker.poll() is not None:
                raise RuntimeError(f"the worker exited; see {self.directory / 'worker.log'}")
            return False

        wait_until(ready, timeout=REPLICA_READY_TIMEOUT, interval=POLL_INTERVAL, message="the replica to be ready")
        seconds = time.perf_counter() - started
        return Trial(seconds, None, cpu=self.worker_cpu() - cpu_before)

    def worker_cpu(self) -> float:
        """User + system seconds of the worker and its pool processes so far."""
        return process_tree_cpu(self.worker.pid)

    def close(self) -> None:
        if self.worker and self.worker.poll() is None:
            self.worker.terminate()
            try:
                self.worker.wait(20)
            except subprocess.TimeoutExpired:
                self.worker.kill()
                self.worker.wait()
        self.log.close() if self.worker else None
