"""Two yardsticks for the copy benchmark, each its own process (as the engine and skopeo are):

    python -m bench.plain_copy copy SOURCE_URL TARGET_URL --repository-prefix P [--concurrency 8]
    python -m bench.plain_copy ingest PLAN.json TARGET_URL [--concurrency 8]

- `copy`, the plain copier: plain httpx, no verification, no HEADs (the target is empty): catalog, tags and
  manifests of the source, then each unique blob streamed GET → PUT once, `--concurrency` at a time, mounted
  into every other repository that needs it, then the manifests (children first). What a copier that trusts
  everything costs: the engine's own overhead is the difference.
- `ingest`, the target registry's own ingest: the same blob uploads, mounts and manifest PUTs, the bytes read
  from local files (written by the benchmark beforehand, so in the page cache) instead of a source registry.
  Nothing is read from a registry and nothing hashed by the client: what the target itself needs.
"""
from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable, Iterator

import httpx

from replication.oci.constants import INDEX_MEDIA_TYPES, MANIFEST_ACCEPT

CHUNK = 1 << 20


def upload(http: httpx.Client, target: str, repository: str, digest: str, size: int, body: Iterable[bytes]) -> None:
    started = http.post(f"{target}/v2/{repository}/blobs/uploads/")
    started.raise_for_status()
    location = started.headers["Location"]
    location = location if "://" in location else target + location
    put = http.put(f"{location}{'&' if '?' in location else '?'}digest={digest}", content=body,
                   headers={"Content-Length": str(size), "Content-Type": "application/octet-stream"})
    put.raise_for_status()


def mount(http: httpx.Client, target: str, repository: str, digest: str, source: str) -> bool:
    response = http.post(f"{target}/v2/{repository}/blobs/uploads/", params={"mount": digest, "from": source})
    response.raise_for_status()
    return response.status_code == 201


def put_manifest(http: httpx.Client, target: str, repository: str, reference: str, media_type: str,
                 body: bytes) -> None:
    http.put(f"{target}/v2/{repository}/manifests/{reference}", content=body,
             headers={"Content-Type": media_type}).raise_for_status()


def file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK):
            yield chunk


def write_blobs(http: httpx.Client, target: str, blobs: list[dict], body, concurrency: int) -> None:
    """blobs: [{digest, size, repositories: [first, *mount_into]}]; body(blob) gives the bytes to upload."""

    def one(blob: dict) -> None:
        first, *others = blob["repositories"]
        upload(http, target, first, blob["digest"], blob["size"], body(blob))
        for repository in others:
            if not mount(http, target, repository, blob["digest"], first):
                upload(http, target, repository, blob["digest"], blob["size"], body(blob))

    # Biggest first, as the engine schedules them.
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, sorted(blobs, key=lambda b: -b["size"])))


def write_manifests(http: httpx.Client, target: str, manifests: list[dict], concurrency: int) -> None:
    """manifests: [{repository, reference, media_type, body}], children before their index."""
    children = [m for m in manifests if m["media_type"] not in INDEX_MEDIA_TYPES]
    indexes = [m for m in manifests if m["media_type"] in INDEX_MEDIA_TYPES]
    with ThreadPoolExecutor(concurrency) as pool:
        for batch in (children, indexes):
            list(pool.map(lambda m: put_manifest(http, target, m["repository"], m["reference"], m["media_type"],
                                                 m["body"]), batch))


def discover(http: httpx.Client, source: str, prefix: str, concurrency: int) -> tuple[list[dict], list[dict]]:
    """The source's blobs (with the repositories needing each) and manifests, children first."""
    repositories = [r for r in http.get(f"{source}/v2/_catalog", params={"n": 1000}).json()["repositories"]
                    if r.startswith(prefix)]

    def repository_manifests(repository: str) -> list[dict]:
        found = []
        for tag in http.get(f"{source}/v2/{repository}/tags/list").json().get("tags") or []:
            response = http.get(f"{source}/v2/{repository}/manifests/{tag}", headers={"Accept": MANIFEST_ACCEPT})
            media_type = response.headers["Content-Type"]
            document = response.json()
            if media_type in INDEX_MEDIA_TYPES:
                for child in document["manifests"]:
                    child_response = http.get(f"{source}/v2/{repository}/manifests/{child['digest']}",
                                              headers={"Accept": MANIFEST_ACCEPT})
                    found.append({"repository": repository, "reference": child["digest"],
                                  "media_type": child_response.headers["Content-Type"],
                                  "body": child_response.content})
            found.append({"repository": repository, "reference": tag, "media_type": media_type,
                          "body": response.content})
        return found

    with ThreadPoolExecutor(concurrency) as pool:
        manifests = [m for found in pool.map(repository_manifests, repositories) for m in found]
    blobs: dict[str, dict] = {}
    for manifest in manifests:
        if manifest["media_type"] in INDEX_MEDIA_TYPES:
            continue
        document = json.loads(manifest["body"])
        for blob in [document["config"], *document["layers"]]:
            entry = blobs.setdefault(blob["digest"], {"digest": blob["digest"], "size": blob["size"],
                                                      "repositories": []})
            if manifest["repository"] not in entry["repositories"]:
                entry["repositories"].append(manifest["repository"])
    return list(blobs.values()), manifests


def client(concurrency: int) -> httpx.Client:
    limits = httpx.Limits(max_connections=2 * concurrency + 4, max_keepalive_connections=2 * concurrency + 4)
    return httpx.Client(timeout=httpx.Timeout(120.0, connect=5.0), limits=limits)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.plain_copy")
    parser.add_argument("mode", choices=("copy", "ingest"))
    parser.add_argument("source", help="copy: the source registry's URL; ingest: the plan file (JSON)")
    parser.add_argument("target")
    parser.add_argument("--repository-prefix", default="")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    target = args.target.rstrip("/")
    with client(args.concurrency) as http:
        if args.mode == "copy":
            source = args.source.rstrip("/")
            blobs, manifests = discover(http, source, args.repository_prefix, args.concurrency)

            def body(blob: dict) -> Iterator[bytes]:
                with http.stream("GET", f"{source}/v2/{blob['repositories'][0]}/blobs/{blob['digest']}") as response:
                    response.raise_for_status()
                    yield from response.iter_raw()
        else:
            plan = json.loads(Path(args.source).read_text())
            blobs = plan["blobs"]
            manifests = [{**m, "body": m["body"].encode()} for m in plan["manifests"]]

            def body(blob: dict) -> Iterator[bytes]:
                return file_chunks(Path(blob["path"]))
        write_blobs(http, target, blobs, body, args.concurrency)
        write_manifests(http, target, manifests, args.concurrency)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
