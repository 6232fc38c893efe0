"""Shapes of the API's bodies. Validation of rules lives in services; these check only types."""
from rest_framework import serializers
from rest_framework.reverse import reverse

from drf_spectacular.utils import extend_schema_field

from ..choices import HealthState, JobState, ReplicaDisplayState, ReplicaStatus
from ..models import Region, Registry, Replica, ReplicationJob, Sku
from ..selectors import registry_monthly_cost, replica_last_failure, replica_latest_job
from ..services.health import region_health_view, region_is_deployed, replica_display_state


class HealthSerializer(serializers.Serializer):
    """A region's recorded health (services.health.region_health_view); no request probes anything."""

    state = serializers.ChoiceField(choices=HealthState.choices,
                                    help_text="healthy | unreachable (its last probe failed) | unknown (not probed)")
    since = serializers.DateTimeField(allow_null=True, help_text="When the state last changed.")
    checked_at = serializers.DateTimeField(allow_null=True, help_text="When the region was last probed.")
    error = serializers.CharField(allow_blank=True, help_text="What the last failed probe saw; empty when healthy.")


class RegionSerializer(serializers.ModelSerializer):
    paired_region = serializers.SlugRelatedField(slug_field="name", read_only=True)
    deployed = serializers.SerializerMethodField()
    available = serializers.SerializerMethodField()
    health = serializers.SerializerMethodField()
    health_since = serializers.DateTimeField(source="health.since", read_only=True, allow_null=True,
                                             help_text="When the recorded health last changed.")

    class Meta:
        model = Region
        fields = ["name", "display_name", "geography", "latitude", "longitude", "paired_region", "enabled",
                  "endpoint", "deployed", "available", "health", "health_since"]

    def get_deployed(self, region) -> bool:
        return region_is_deployed(region)

    def get_available(self, region) -> bool:
        return self.context.get("availability", {}).get(region.pk, False)

    @extend_schema_field(HealthSerializer)
    def get_health(self, region) -> dict:
        """The last recorded probe (select_related("health")); a region never probed has no record yet."""
        return HealthSerializer(region_health_view(region).as_dict()).data


class SkuSerializer(serializers.ModelSerializer):
    price_per_month_usd = serializers.SerializerMethodField()

    class Meta:
        model = Sku
        fields = ["name", "included_storage_gib", "max_webhooks", "read_ops_per_minute", "write_ops_per_minute",
                  "price_per_day_usd", "price_per_month_usd", "geo_replication"]

    def get_price_per_month_usd(self, sku) -> str:
        from ..pricing import monthly_cost

        return str(monthly_cost(sku.price_per_day_usd, 1))


class RegistryCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    sku = serializers.CharField(max_length=40)
    home_region = serializers.CharField(max_length=80)


class RegistryUpdateSerializer(serializers.Serializer):
    """PATCH: the SKU (needs `manage`), anonymous pull (needs `administer`), or both, applied together."""

    sku = serializers.CharField(max_length=40, required=False)
    anonymous_pull = serializers.BooleanField(required=False)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Give at least one of: sku, anonymous_pull.")
        return attrs


class RegistrySerializer(serializers.ModelSerializer):
    sku = serializers.SlugRelatedField(slug_field="name", read_only=True)
    home_region = serializers.SlugRelatedField(slug_field="name", read_only=True)
    replica_count = serializers.SerializerMethodField()
    monthly_cost_usd = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Registry
        fields = ["name", "sku", "home_region", "anonymous_pull", "replica_count", "monthly_cost_usd", "created_at",
                  "updated_at", "url"]

    def get_replica_count(self, registry) -> int:
        count = getattr(registry, "region_count", None)
        return count if count is not None else registry.replicas.count()

    def get_monthly_cost_usd(self, registry) -> str:
        return registry_monthly_cost(registry)

    def get_url(self, registry) -> str:
        return reverse("api:registry-detail", kwargs={"name": registry.name}, request=self.context.get("request"))


class JobSerializer(serializers.ModelSerializer):
    registry = serializers.SlugRelatedField(slug_field="name", read_only=True)
    region = serializers.SlugRelatedField(slug_field="name", read_only=True)
    state = serializers.ChoiceField(choices=JobState.choices, read_only=True)
    percent_done = serializers.IntegerField(read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = ReplicationJob
        fields = ["id", "url", "registry", "region", "kind", "state", "celery_task_id", "attempts",
                  "manifests_total", "manifests_done", "blobs_total", "blobs_done", "bytes_total", "bytes_done",
                  "percent_done", "error", "created_at", "started_at", "finished_at"]

    def get_url(self, job) -> str:
        return reverse("api:job-detail", kwargs={"pk": job.pk}, request=self.context.get("request"))


class ReplicaCreateSerializer(serializers.Serializer):
    region = serializers.CharField(max_length=80)


class ReplicaUpdateSerializer(serializers.Serializer):
    region_endpoint_enabled = serializers.BooleanField()


class ReplicaSerializer(serializers.ModelSerializer):
    region = serializers.SlugRelatedField(slug_field="name", read_only=True)
    status = serializers.ChoiceField(choices=ReplicaStatus.choices, read_only=True)
    is_home = serializers.BooleanField(read_only=True)
    latest_job = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    health = serializers.SerializerMethodField()
    display_state = serializers.SerializerMethodField()
    display_message = serializers.SerializerMethodField()
    last_failure = serializers.SerializerMethodField()

    class Meta:
        model = Replica
        fields = ["region", "status", "status_message", "status_changed_at", "is_home", "region_endpoint_enabled",
                  "zone_redundancy", "last_synced_at", "created_at", "updated_at", "latest_job", "url",
                  "health", "display_state", "display_message", "last_failure"]

    def _display(self, replica):
        display = getattr(replica, "display", None)  # selectors.replica_list attaches it
        if display is None:
            display = replica.display = replica_display_state(replica)
        return display

    @extend_schema_field(HealthSerializer)
    def get_health(self, replica) -> dict:
        return HealthSerializer(self._display(replica).health.as_dict()).data

    @extend_schema_field(serializers.ChoiceField(choices=ReplicaDisplayState.choices))
    def get_display_state(self, replica) -> str:
        """The status shown in the pages: `unreachable` while the region's last probe failed, else `status`."""
        return self._display(replica).state.value

    def get_last_failure(self, replica) -> str:
        """Why the last sync failed while none has succeeded since (visible through retries); else empty."""
        found = getattr(replica, "last_failure", None)  # selectors.replica_list attaches it
        return found if found is not None else replica_last_failure(replica)

    def get_display_message(self, replica) -> str:
        """The status line shown in the pages (why it is unreachable, else status_message)."""
        return self._display(replica).message

    def get_latest_job(self, replica) -> dict | None:
        job = replica_latest_job(replica)
        return JobSerializer(job, context=self.context).data if job else None

    def get_url(self, replica) -> str:
        return reverse("api:replica-detail", kwargs={"name": replica.registry.name, "region": replica.region.name},
                       request=self.context.get("request"))


class DataEndpointSerializer(serializers.Serializer):
    region = serializers.CharField()
    endpoint = serializers.URLField()


class RegionalEndpointSerializer(serializers.Serializer):
    region = serializers.CharField()
    endpoint = serializers.CharField(help_text="host[:port] pinned to this replica")


class RoutingStateSerializer(serializers.Serializer):
    region = serializers.CharField()
    takes_traffic = serializers.BooleanField()
    reason = serializers.CharField(help_text="routing off | unhealthy | cooling down | catching up | not ready; "
                                             "empty when it takes traffic")
    counters = serializers.DictField(child=serializers.IntegerField(),
                                     help_text="served, redirected, failed_over, stale_avoided (all registries)")


class EndpointsSerializer(serializers.Serializer):
    login_server = serializers.CharField()
    regional_endpoints = RegionalEndpointSerializer(many=True)
    data_endpoints = DataEndpointSerializer(many=True)
    routing = RoutingStateSerializer(many=True)
