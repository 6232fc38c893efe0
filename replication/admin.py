from django.contrib import admin

from .models import (
    ActivityRecord,
    ImageReplication,
    ReconcileRun,
    Region,
    RegionHealth,
    Registry,
    RegistryEvent,
    Replica,
    ReplicationJob,
    Sku,
    Webhook,
    WebhookDelivery,
)
from .services.regions import region_set_endpoint


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["name", "display_name", "geography", "latitude", "longitude", "paired_region", "endpoint",
                    "data_endpoint", "enabled"]
    list_filter = ["geography", "enabled"]
    search_fields = ["name", "display_name"]
    list_editable = ["endpoint", "data_endpoint", "enabled"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if "endpoint" in form.changed_data:
            # The old endpoint's health says nothing.
            region_set_endpoint(name=obj.name, endpoint=obj.endpoint, storage_root=obj.storage_root)


@admin.register(RegionHealth)
class RegionHealthAdmin(admin.ModelAdmin):
    """Written by the probe only; shown for operators."""

    list_display = ["region", "state", "since", "checked_at", "consecutive_failures", "last_error"]
    list_filter = ["state"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Sku)
class SkuAdmin(admin.ModelAdmin):
    list_display = ["name", "included_storage_gib", "max_webhooks", "read_ops_per_minute", "write_ops_per_minute",
                    "price_per_day_usd", "geo_replication"]


class ReplicaInline(admin.TabularInline):
    model = Replica
    extra = 0
    readonly_fields = ["status", "status_message", "last_synced_at"]


@admin.register(Registry)
class RegistryAdmin(admin.ModelAdmin):
    list_display = ["name", "sku", "home_region", "owner", "created_at"]
    inlines = [ReplicaInline]


@admin.register(ReplicationJob)
class ReplicationJobAdmin(admin.ModelAdmin):
    list_display = ["id", "registry", "region", "kind", "state", "manifests_done", "manifests_total", "bytes_done",
                    "bytes_total", "created_at", "finished_at"]
    list_filter = ["state", "kind"]
    readonly_fields = [f.name for f in ReplicationJob._meta.fields]


# Regional webhooks (rules live in services/webhooks.py: the admin only toggles `enabled`; the secret is never shown)


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ["name", "registry", "region", "actions", "scope", "enabled", "created_at"]
    list_filter = ["enabled", "region"]
    search_fields = ["name", "registry__name"]
    fields = ["registry", "name", "region", "actions", "scope", "enabled", "created_at", "updated_at"]
    readonly_fields = ["registry", "name", "region", "actions", "scope", "created_at", "updated_at"]

    def has_add_permission(self, request):
        return False  # created through the API or the page, where the SKU limit and other rules apply


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "webhook", "action", "state", "attempts", "response_status", "created_at", "delivered_at"]
    list_filter = ["state", "action"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(RegistryEvent)
class RegistryEventAdmin(admin.ModelAdmin):
    list_display = ["id", "region", "registry", "action", "repository", "tag", "digest", "from_replication",
                    "timestamp", "processed_at"]
    list_filter = ["action", "from_replication", "region"]
    search_fields = ["repository", "tag", "digest"]
    readonly_fields = [f.name for f in RegistryEvent._meta.fields]


@admin.register(ImageReplication)
class ImageReplicationAdmin(admin.ModelAdmin):
    list_display = ["registry", "region", "repository", "reference", "digest", "status", "pushed_at", "completed_at"]
    list_filter = ["status", "region"]
    search_fields = ["repository", "reference", "digest"]
    readonly_fields = [f.name for f in ImageReplication._meta.fields]


@admin.register(ReconcileRun)
class ReconcileRunAdmin(admin.ModelAdmin):
    list_display = ["id", "started_at", "finished_at"]
    readonly_fields = [f.name for f in ReconcileRun._meta.fields]


@admin.register(ActivityRecord)
class ActivityRecordAdmin(admin.ModelAdmin):
    """Read-only: where staff read the activity of registries deleted since (the API follows live registries)."""

    list_display = ["created_at", "registry_name", "action", "target", "actor_name", "actor_kind"]
    list_filter = ["action", "actor_kind"]
    search_fields = ["registry_name", "target", "actor_name"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
