from django.contrib import admin

from .models import Region, Registry, Replica, ReplicationJob, Sku


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["name", "display_name", "geography", "latitude", "longitude", "paired_region", "endpoint",
                    "enabled"]
    list_filter = ["geography", "enabled"]
    search_fields = ["name", "display_name"]
    list_editable = ["endpoint", "enabled"]


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
from .models import Webhook, WebhookDelivery  # noqa: E402


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
