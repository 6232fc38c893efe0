"""Every write and business rule of the product. Views, serializers and tasks call these."""
from .health import region_health_check, region_health_probe
from .regions import region_availability, region_get
from .registries import (
    registry_change_sku,
    registry_create,
    registry_delete,
    registry_get,
    registry_set_anonymous_pull,
    registry_sku_change_check,
    registry_update,
)
from .replicas import replica_create, replica_delete, replica_get, replica_resync, replica_set_endpoint_enabled

__all__ = [
    "region_availability",
    "region_get",
    "region_health_check",
    "region_health_probe",
    "registry_change_sku",
    "registry_create",
    "registry_delete",
    "registry_get",
    "registry_set_anonymous_pull",
    "registry_sku_change_check",
    "registry_update",
    "replica_create",
    "replica_delete",
    "replica_get",
    "replica_resync",
    "replica_set_endpoint_enabled",
]
