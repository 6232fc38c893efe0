from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

from .choices import JobKind, JobState, ReplicaStatus, SkuTier


class Region(models.Model):
    name = models.SlugField(max_length=40, unique=True)
    display_name = models.CharField(max_length=80)
    geography = models.CharField(max_length=80, blank=True)
    latitude = models.FloatField()
    longitude = models.FloatField()
    paired_region = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Base URL of the region's OCI registry; blank means no data plane is deployed there.
    endpoint = models.URLField(blank=True)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["display_name"]

    def __str__(self):
        return self.display_name


class Sku(models.Model):
    name = models.CharField(max_length=20, choices=SkuTier.choices, unique=True)
    rank = models.PositiveSmallIntegerField(help_text="Ordering from cheapest to most capable.")
    included_storage_gib = models.PositiveIntegerField()
    max_webhooks = models.PositiveIntegerField()
    read_ops_per_minute = models.PositiveIntegerField()
    write_ops_per_minute = models.PositiveIntegerField()
    price_per_day_usd = models.DecimalField(max_digits=8, decimal_places=3)
    geo_replication = models.BooleanField(default=False)

    class Meta:
        ordering = ["rank"]

    def __str__(self):
        return self.name


class Registry(models.Model):
    name = models.CharField(max_length=50, unique=True)
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="registries")
    home_region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="home_registries")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "registries"
        constraints = [models.UniqueConstraint(Lower("name"), name="registry_name_unique_ci")]

    def __str__(self):
        return self.name

    @property
    def repository_prefix(self) -> str:
        """Every repository of the registry lives under this prefix in each region."""
        return f"{self.name.lower()}/"


class Replica(models.Model):
    registry = models.ForeignKey(Registry, on_delete=models.CASCADE, related_name="replicas")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="replicas")
    status = models.CharField(max_length=16, choices=ReplicaStatus.choices, default=ReplicaStatus.CREATING)
    status_message = models.TextField(blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    region_endpoint_enabled = models.BooleanField(default=True)
    zone_redundancy = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["registry__name", "region__display_name"]
        constraints = [models.UniqueConstraint(fields=["registry", "region"], name="replica_unique_region")]

    def __str__(self):
        return f"{self.registry.name}@{self.region.name}"

    @property
    def is_home(self) -> bool:
        return self.region_id == self.registry.home_region_id


class ReplicationJob(models.Model):
    """The durable record of one copy into a replica's region (not Celery's result backend)."""

    replica = models.ForeignKey(Replica, null=True, on_delete=models.SET_NULL, related_name="jobs")
    registry = models.ForeignKey(Registry, on_delete=models.CASCADE, related_name="jobs")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="jobs")
    kind = models.CharField(max_length=16, choices=JobKind.choices)
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED)
    celery_task_id = models.CharField(max_length=64, blank=True)
    # What to copy: empty means the whole registry; otherwise a list of {"repository", "reference", ...}.
    spec = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    manifests_total = models.PositiveIntegerField(default=0)
    manifests_done = models.PositiveIntegerField(default=0)
    blobs_total = models.PositiveIntegerField(default=0)
    blobs_done = models.PositiveIntegerField(default=0)
    bytes_total = models.BigIntegerField(default=0)
    bytes_done = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)
    # Who runs it ("host:pid") and when it last reported, so a dead worker's job can be requeued.
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["replica", "state"])]

    def __str__(self):
        return f"job {self.pk} {self.kind} {self.registry_id}@{self.region_id} {self.state}"

    @property
    def percent_done(self) -> int:
        if self.bytes_total:
            return min(100, int(100 * self.bytes_done / self.bytes_total))
        if self.manifests_total:
            return min(100, int(100 * self.manifests_done / self.manifests_total))
        return 100 if self.state == JobState.SUCCEEDED else 0
