"""`make run` seeds the demo registry's images once: a restart pushes nothing again (real home registry)."""
import pytest

from replication.demo import demo_registry_seed
from replication.oci.client import RegistryClient

pytestmark = pytest.mark.django_db


def test_the_demo_is_pushed_once_and_not_again_on_restart(westeurope_registry, monkeypatch):
    # Homed in a registry of its own (fresh storage), so the first seed really has everything to push.
    monkeypatch.setattr("replication.demo.DEMO_HOME", "westeurope")
    monkeypatch.setattr("replication.demo.DEMO_REPLICAS", ["westus"])
    puts = []
    real_put = RegistryClient.put_manifest

    def counting_put(self, *args, **kwargs):
        puts.append(args[:2])
        return real_put(self, *args, **kwargs)

    monkeypatch.setattr(RegistryClient, "put_manifest", counting_put)
    first = demo_registry_seed()
    assert "its images pushed" in first and puts
    pushed = len(puts)

    again = demo_registry_seed()
    assert "its images already there" in again
    assert len(puts) == pushed  # not one manifest (so no push event, no webhook) the second time
