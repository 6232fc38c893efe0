"""A region whose storage runs out of space: eastus's registry root is a small tmpfs, filled to within a few KiB.
Pushes to eastus and copies into it fail meanwhile (the portal names the cause: "no space left"); after
FAULT_SECONDS the tmpfs is grown (mount -o remount,size=…) and every region levels. Every blob eastus serves
then hashes to its digest: no partial upload is ever served."""
import hashlib
import os
import shutil
import subprocess
import time

import httpx
import pytest

from replication.models import ReplicationJob
from tests.conftest import fleet_http_auth
from tests.faults.conftest import (ACCEPT, FAULT_SECONDS, PortalWatch, PushFailed, push, settle_and_report,
                                   wait)

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

SIZE = "16m"
GROWN = "256m"
MARGIN = 24 * 1024  # bytes left free: less than any image's own layer (48 KiB)


def mount(*argv: str) -> None:
    subprocess.run(["mount", *argv], check=True, capture_output=True, text=True)


@pytest.fixture
def small_storage(contoso):
    """eastus's registry moved onto a tmpfs of SIZE (its content copied over), then filled up."""
    eastus = contoso.regions["eastus"]
    data = eastus.registry.storage_dir
    eastus.registry.stop()
    before = data.with_name("data.before")
    data.rename(before)
    data.mkdir()
    mount("-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(data))
    try:
        subprocess.run(["cp", "-a", f"{before}/.", str(data)], check=True)
        shutil.rmtree(before)
        eastus.registry.start(timeout=30)
        stat = os.statvfs(data)
        with open(data / "filler", "wb") as filler:  # outside docker/: the registry never sees it
            filler.write(b"\0" * max(0, stat.f_bavail * stat.f_frsize - MARGIN))
        yield data
    finally:
        subprocess.run(["umount", "-l", str(data)], capture_output=True)


def free_bytes(path) -> int:
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


def blobs_intact(endpoint: str, pushed: dict) -> list[str]:
    """Every blob of every pushed image (each platform's too) as the region serves it: the ones whose bytes do
    not hash to their digest."""
    bad = []
    with httpx.Client(auth=fleet_http_auth("contoso/"), timeout=30) as http:
        def manifest_blobs(repository, reference):
            response = http.get(f"{endpoint}/v2/{repository}/manifests/{reference}", headers={"Accept": ACCEPT})
            response.raise_for_status()
            body = response.json()
            for child in body.get("manifests", []):
                yield from manifest_blobs(repository, child["digest"])
            for descriptor in [body.get("config"), *body.get("layers", [])]:
                if descriptor:
                    yield descriptor["digest"]

        for repository, tag in pushed:
            for digest in manifest_blobs(repository, tag):
                response = http.get(f"{endpoint}/v2/{repository}/blobs/{digest}", follow_redirects=True)
                if response.status_code != 200 or \
                        "sha256:" + hashlib.sha256(response.content).hexdigest() != digest:
                    bad.append(f"{repository}@{digest}: {response.status_code}")
    return bad


def eastus_failure_reason(fleet) -> str | None:
    for repository, tag in fleet.pushed:
        body = fleet.api("/registries/contoso/replication-status/", repository=repository, reference=tag).json()
        for row in body.get("regions", []):
            if row["region"] == "eastus" and row["failure_reason"]:
                return f"{row['status']}: {row['failure_reason']}"
    return None


def test_a_region_out_of_space_levels_once_it_has_room(contoso, small_storage, image_layout):
    fleet = contoso
    layout, images = image_layout
    eastus = fleet.regions["eastus"]
    first_job = ReplicationJob.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    attempted = refused = 0
    refusals = []
    with PortalWatch(fleet) as watch:
        started = time.monotonic()
        index = 0
        while time.monotonic() - started < FAULT_SECONDS:
            region = ["westus", "eastus", "westeurope"][index % 3]
            attempted += 1
            try:
                push(fleet, layout, images[index], region, f"contoso/full/img{index}:1")
            except PushFailed as exc:
                refused += 1
                refusals.append(str(exc)[-200:])
            index += 1
            time.sleep(1)
        # What the portal says of the copies into eastus while it is full: the jobs' errors, and the per-image
        # status API once a copy gave up.
        failed = wait(lambda: list(ReplicationJob.objects.filter(pk__gt=first_job, region__name="eastus")
                                   .exclude(error="").values_list("error", flat=True)),
                      timeout=60, message="a copy into the full eastus to fail")
        shown = wait(lambda: eastus_failure_reason(fleet), timeout=60,
                     message="the status API to show a failed copy into eastus")
        mount("-o", f"remount,size={GROWN}", "tmpfs", str(small_storage))
        ended = time.monotonic()
        settle_and_report(fleet, case="eastus storage full, then grown", fault_ended=ended, watch=watch,
                          attempted=attempted, failed_pushes=refused,
                          extra=f"full {ended - started:.0f} s; {refused} pushes to eastus refused; "
                                f"status API for eastus: {shown.split(':')[0]}, '{shown[shown.find('failed with'):]}'")
    print("push refusals:", refusals)
    assert refused >= 1, "a push into the full region was refused"
    assert any("no space" in error.lower() for error in failed), failed
    assert "storage is full" in shown, shown
    assert blobs_intact(eastus.endpoint, fleet.pushed) == []
    assert free_bytes(small_storage) > MARGIN
