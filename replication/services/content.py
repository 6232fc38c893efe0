"""Removing a registry's content from a region's data plane."""
from ..choices import ReplicaStatus
from ..models import Region, Replica
from ..oci.copy import delete_image
from .region_clients import region_client


def region_purge_prefix(*, region_id: int, repository_prefix: str) -> int:
    """Delete every manifest under the prefix in the region's registry. Returns how many were deleted."""
    region = Region.objects.get(pk=region_id)
    if not region.endpoint:
        return 0
    client = region_client(region, prefix=repository_prefix, actions=("pull", "delete"), catalog=True)
    deleted = 0
    try:
        for repository in list(client.catalog(prefix=repository_prefix)):
            digests = set()
            for tag in client.tags(repository):
                descriptor = client.head_manifest(repository, tag)
                if descriptor is not None:
                    digests.add(descriptor.digest)
            for digest in digests:
                delete_image(client, repository, digest)
                deleted += 1
    finally:
        client.close()
    return deleted


def replica_remove(*, replica_id: int) -> None:
    """The last step of deleting a replica, once its region holds none of the registry's content."""
    Replica.objects.filter(pk=replica_id).delete()


def replica_delete_status(*, replica_id: int, message: str) -> None:
    """Say on a deleting replica why its delete has not finished (e.g. its region does not answer)."""
    Replica.objects.filter(pk=replica_id, status=ReplicaStatus.DELETING).update(status_message=message)
