"""A blob corrupted on a region's disk (bytes flipped in its storage): a pull of it fails its digest; a scrub
asked for through the real portal's API finds it, reports it and repairs it from a healthy region; every region
then serves every image right and a pull of the blob verifies."""
import hashlib
import json
import time

import httpx
import pytest

from tests.conftest import fleet_http_auth
from tests.faults.conftest import ACCEPT, PortalWatch, push, region_tags, settle_and_report, wait
from tests.scrubbing import flip_bytes

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def pull_verifies(endpoint: str, repository: str, digest: str) -> bool:
    """A client's pull of the blob: True when the bytes served hash to its digest."""
    with httpx.Client(auth=fleet_http_auth("contoso/"), timeout=30, follow_redirects=True) as http:
        response = http.get(f"{endpoint}/v2/{repository}/blobs/{digest}")
    return response.status_code == 200 and "sha256:" + hashlib.sha256(response.content).hexdigest() == digest


def largest_layer(endpoint: str, repository: str, tag: str) -> tuple[str, int]:
    """(digest, size) of the largest layer of the image (the first platform's, for an index)."""
    with httpx.Client(auth=fleet_http_auth("contoso/"), timeout=30) as http:
        document = http.get(f"{endpoint}/v2/{repository}/manifests/{tag}", headers={"Accept": ACCEPT}).json()
        if "manifests" in document:
            child = document["manifests"][0]["digest"]
            document = http.get(f"{endpoint}/v2/{repository}/manifests/{child}", headers={"Accept": ACCEPT}).json()
    layer = max(document["layers"], key=lambda layer: layer["size"])
    return layer["digest"], layer["size"]


def test_a_corrupted_blob_is_detected_reported_and_repaired_from_a_healthy_region(contoso, image_layout):
    fleet = contoso
    layout, images = image_layout
    eastus = fleet.regions["eastus"]
    attempted = 0
    for index in range(4):
        push(fleet, layout, images[index], "westus", f"contoso/scrub/img{index}:1")
        attempted += 1
    wait(lambda: all(region_tags(region.endpoint, fleet.pushed) == fleet.pushed for region in fleet.regions.values()),
         timeout=180, message="the pushed images in every region")

    repository = "contoso/scrub/img3"
    digest, size = largest_layer(eastus.endpoint, repository, "1")
    hex_digest = digest.removeprefix("sha256:")
    stored = eastus.registry.storage_dir / "docker/registry/v2/blobs/sha256" / hex_digest[:2] / hex_digest / "data"
    assert pull_verifies(eastus.endpoint, repository, digest)
    with PortalWatch(fleet) as watch:
        flip_bytes(stored)  # the disk under eastus's registry goes bad
        corrupted = time.monotonic()
        assert not pull_verifies(eastus.endpoint, repository, digest), "a pull of it fails its digest"
        assert pull_verifies(fleet.regions["westus"].endpoint, repository, digest), "westus's copy is sound"

        response = httpx.post(f"{fleet.control.url}/api/v1/registries/contoso/replicas/eastus/scrubs/", timeout=10,
                              headers={"Authorization": f"Token {fleet.token}"})
        assert response.status_code == 202, response.text
        requested = time.monotonic()
        scrub_url = response.json()["url"]

        def finished():
            body = httpx.get(scrub_url, headers={"Authorization": f"Token {fleet.token}"}, timeout=10).json()
            return body if body["state"] in ("succeeded", "failed", "canceled") else None

        run = wait(finished, timeout=240, interval=1, message="the scrub of eastus")
        scrubbed = time.monotonic()
        assert run["state"] == "succeeded", run
        assert pull_verifies(eastus.endpoint, repository, digest), "a pull of it verifies after the repair"
        row = settle_and_report(
            fleet, case="a blob corrupted on eastus's disk, scrubbed through the API", fault_ended=requested,
            watch=watch, attempted=attempted,
            extra=(f"{size // 1024} KiB layer corrupted; scrub {scrubbed - requested:.1f} s: {run['summary']}"))
    print(json.dumps({"corrupted_to_request_s": round(requested - corrupted, 1), "run": run["summary"]}))
    assert (run["corrupt_found"], run["repaired"], run["unrecoverable"]) == (1, 1, 0), run
    (finding,) = run["findings"]
    assert (finding["digest"], finding["problem"], finding["outcome"]) == (digest, "corrupt", "repaired")
    assert finding["source_region"] in ("westus", "westeurope") and repository in finding["repositories"]
    assert run["blobs_checked"] >= 4 and row["lost"] == row["wrong"] == 0
