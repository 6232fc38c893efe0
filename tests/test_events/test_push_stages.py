"""The stages of a push's trip are stamped on its per-region status rows, in order (bench push-stages reads them)."""
import pytest

from replication.models import ImageReplication

from .conftest import event, run_queued_jobs
from .test_rules import push, receive

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_stage_of_a_copied_push_is_stamped_in_order(geo, deployed_regions):
    (repository, tag), digest = next(iter(push(deployed_regions["eastus"], geo, 41).items()))
    receive("eastus", event(repository=repository, digest=digest, tag=tag))
    run_queued_jobs()

    origin = ImageReplication.objects.get(registry=geo, region__name="eastus", reference=tag)
    assert origin.event_received_at is not None and origin.queued_at is None  # nothing was copied there
    copies = ImageReplication.objects.filter(registry=geo, reference=tag).exclude(region__name="eastus")
    assert sorted(row.region.name for row in copies) == ["canadacentral", "westus"]
    for row in copies:
        assert row.status == "complete"
        assert row.event_received_at <= row.queued_at <= row.copy_started_at <= row.copy_finished_at \
            <= row.completed_at, vars(row)
        assert row.job.created_at <= row.queued_at  # its job was created then (or joined, a queued one, later)


def test_a_new_push_of_the_tag_starts_a_new_trip(geo, deployed_regions):
    pushed = iter(push(deployed_regions["eastus"], geo, 42, tags_per_repo=2).items())
    (repository, first_tag), first = next(pushed)
    receive("eastus", event(repository=repository, digest=first, tag="moving"))
    run_queued_jobs()
    (_, _), second = next(pushed)
    receive("eastus", event(repository=repository, digest=second, tag="moving"))

    row = ImageReplication.objects.get(registry=geo, region__name="westus", reference="moving")
    assert row.digest == second and row.status == "pending"
    assert row.queued_at is not None and row.copy_started_at is None and row.copy_finished_at is None
