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
