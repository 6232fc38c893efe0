"""The registry overview shows the image × region matrix, with each region's status and lag."""
from datetime import timedelta

from django.utils import timezone

from replication.models import ImageReplication, Region, Replica


def test_overview_page_shows_images_by_region(geo, client, admin_user):
    pushed = timezone.now() - timedelta(seconds=30)
    common = {"registry": geo, "repository": f"{geo.name}/web", "reference": "1.2", "digest": "sha256:" + "e" * 64,
              "pushed_at": pushed}
    ImageReplication.objects.create(region=Region.objects.get(name="eastus"), status="complete",
                                    completed_at=pushed, **common)
    ImageReplication.objects.create(region=Region.objects.get(name="westus"), status="complete",
                                    completed_at=pushed + timedelta(seconds=2.5), **common)
    ImageReplication.objects.create(region=Region.objects.get(name="canadacentral"), status="failed",
                                    failure_reason="Cannot reach a registry", **common)
    Replica.objects.filter(registry=geo).update(created_at=pushed - timedelta(minutes=5))  # pushed after them
    client.force_login(admin_user)
    page = client.get(f"/registries/{geo.name}/").content.decode()
    assert 'id="image-replication"' in page
    assert f'data-image="{geo.name}/web:1.2"' in page
    assert 'data-region="westus" data-status="complete"' in page and "lag 2.5 s" in page
    assert "pushed here" in page and "lag 0.0 s" not in page  # eastus is where it was pushed
    assert 'data-region="canadacentral" data-status="failed"' in page and "Cannot reach a registry" in page


def test_overview_page_without_pushes_says_so(geo, client, admin_user):
    client.force_login(admin_user)
    assert "No pushes recorded yet" in client.get(f"/registries/{geo.name}/").content.decode()
