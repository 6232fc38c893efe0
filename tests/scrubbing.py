"""What the scrub tests share: a registry with its own images in two regions, and a disk that flips bytes."""
import uuid
from pathlib import Path

import pytest

from replication import services
from replication.choices import ReplicaStatus
from replication.models import Region, Replica
from replication.oci.corpus import build_corpus, push_corpus
from tests.conftest import fleet_client


def new_corpus():
    """Images of their own: a registry stores each digest once for all its repositories (and the session's
    registries outlive a test), so a blob corrupted by one test must not be another's."""
    return build_corpus(uuid.uuid4().int % 10**9, repositories=2, tags_per_repo=1, multi_platform_repositories=1)


def flip_bytes(path: Path) -> None:
    """Corrupt a stored blob as a failing disk would: same size, a few bytes changed."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 4] = bytes(b ^ 0xFF for b in data[middle:middle + 4])
    path.write_bytes(bytes(data))


@pytest.fixture
def registry(deployed_regions, admin_user):
    """A Premium registry of its own name (the session's registries keep every test's content), home westus,
    a ready replica in eastus, the same images pushed into both regions."""
    name = "scrub" + uuid.uuid4().hex[:10]
    corpus = new_corpus()
    registry = services.registry_create(name=name, sku="Premium", home_region="westus", owner=admin_user)
    Replica.objects.create(registry=registry, region=Region.objects.get(name="eastus"), status=ReplicaStatus.READY)
    for region in ("westus", "eastus"):
        with fleet_client(deployed_regions[region].endpoint, prefix=registry.repository_prefix) as client:
            push_corpus(client, corpus, registry.repository_prefix)
    registry.corpus = corpus
    return registry


def shared_layer(corpus) -> str:
    """A blob that several repositories hold (a base layer), so the repair must reach each of them."""
    homes = {}
    for repository, blobs in corpus.blobs_by_repository().items():
        for digest in blobs:
            homes.setdefault(digest, []).append(repository)
    return max(homes, key=lambda digest: (len(homes[digest]), corpus.unique_blobs()[digest].size))


