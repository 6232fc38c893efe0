"""Every write and business rule of the product. Views, serializers and tasks call these."""
from .regions import region_availability, region_get, region_is_available
from .registries import registry_change_sku, registry_create, registry_delete, registry_get
from .replicas import replica_create, replica_delete, replica_get, replica_resync, replica_set_endpoint_enabled

__all__ = [
    "region_availability",
    "region_get",
    "region_is_available",
    "registry_change_sku",
    "registry_create",
    "registry_delete",
    "registry_get",
    "replica_create",
    "replica_delete",
    "replica_get",
    "replica_resync",
    "replica_set_endpoint_enabled",
]
