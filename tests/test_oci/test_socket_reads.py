"""tune_socket_reads: an explicit call by the processes that copy, never a side effect of an import.

Each check runs in a fresh interpreter: the setting is process-wide, and this test process has
long since imported everything.
"""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
READ_NUM_BYTES = "import httpcore._sync.http11 as h; print(h.HTTP11Connection.READ_NUM_BYTES)"


def read_size_after(code: str) -> int:
    result = subprocess.run([sys.executable, "-c", f"{code}\n{READ_NUM_BYTES}"], cwd=ROOT, capture_output=True,
                            text=True, env={"DJANGO_SETTINGS_MODULE": "portal.settings", "PATH": ""}, check=True)
    return int(result.stdout.split()[-1])


def test_importing_the_engine_leaves_httpcore_alone():
    assert read_size_after("import replication.oci.copy") == read_size_after("pass") < 256 * 1024


def test_tune_socket_reads_reads_256_kib_at_a_time():
    assert read_size_after("from replication.oci import tune_socket_reads; tune_socket_reads()") == 256 * 1024


@pytest.mark.parametrize("signal", ["worker_init", "worker_process_init"])
def test_a_celery_worker_starting_tunes_its_socket_reads(signal):
    code = f"import portal.celery\nfrom celery import signals\nsignals.{signal}.send(sender=None)"
    assert read_size_after(code) == 256 * 1024
