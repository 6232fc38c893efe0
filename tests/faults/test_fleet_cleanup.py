"""fleet_cleanup removes what a crashed fleet left: processes inside its namespaces, the namespaces, veths."""
import subprocess
import time

import pytest

from replication.fleet_hosts import RegionHost, fleet_cleanup

pytestmark = pytest.mark.faults

PREFIX = "grfz"  # apart from the fleets of the suite and of run_fleet


def test_cleanup_removes_a_crashed_fleets_leftovers():
    host = RegionHost(name="leftover", index=1, prefix=PREFIX, octet=233)
    host.create()
    orphan = subprocess.Popen([*host.exec_prefix, "sleep", "600"], start_new_session=True)
    time.sleep(0.3)
    removed = fleet_cleanup(PREFIX)
    assert f"namespace {host.namespace}" in removed
    assert orphan.wait(timeout=10) != 0, "the process inside the namespace was killed"
    assert host.namespace not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert subprocess.run(["ip", "link", "show", host.host_interface], capture_output=True).returncode != 0
    assert fleet_cleanup(PREFIX) == []
