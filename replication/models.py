from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

from .choices import (
    ActivityAction,
    ActivityActorKind,
    ImageReplicationStatus,
    JobKind,
    JobState,
    RegionHealthState,
    RegistryEventAction,
    RegistryRole,
    ReplicaStatus,
    RoutingDecision,
    SkuTier,
    WebhookAction,
    WebhookDeliveryState,
)


class Region(models.Model):
    name = models.SlugField(max_length=40, unique=True)
    display_name = models.CharField(max_length=80)
    geography = models.CharField(max_length=80, blank=True)
    latitude = models.FloatField()
    longitude = models.FloatField()
    paired_region = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Base URL of the region's OCI registry; blank means no data plane is deployed there.
    endpoint = models.URLField(blank=True)
    # Base URL of the region's data endpoint (`run_data_endpoint`), where the global endpoint sends blob
    # downloads with a signed URL; blank: the global endpoint relays that region's blobs itself.
    data_endpoint = models.URLField(blank=True)
    # Root folder of the region's Distribution storage (filesystem driver) as the region's own worker sees
    # it; blank: not reachable. Distribution never replaces a stored blob's bytes through its API (an upload
    # of a digest it stores is accepted and dropped), so a scrub repairs a corrupted blob only with it.
    storage_root = models.CharField(max_length=500, blank=True, default="", db_default="")
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["display_name"]

    def __str__(self):
        return self.display_name


class RegionHealth(models.Model):
    """The last probe of a region's registry; pages and API reads use this, never the network."""

    region = models.OneToOneField(Region, on_delete=models.CASCADE, primary_key=True, related_name="health")
    state = models.CharField(max_length=10, choices=RegionHealthState.choices, default=RegionHealthState.UNKNOWN)
    since = models.DateTimeField(help_text="When the state last changed.")
    checked_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "region health"

    def __str__(self):
        return f"{self.region_id}: {self.state}"


class RegionEventsSecret(models.Model):
    """The bearer secret a region's registry sends with its event notifications: random, stored sealed.

    `previous` stays accepted after a rotation until it is retired, so the registry keeps
    delivering while it is restarted with the new one.
    """

    region = models.OneToOneField(Region, on_delete=models.CASCADE, related_name="events_secret")
    current = models.TextField()  # sealed with replication.secret_box
    previous = models.TextField(blank=True)
    rotated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"events secret of {self.region.name}"


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
    # Pulls without credentials (Standard and Premium only, as in ACR); off by default.
    anonymous_pull = models.BooleanField(default=False)
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
    # Null once the registry is deleted: its purge jobs outlive it, as history.
    registry = models.ForeignKey(Registry, null=True, on_delete=models.SET_NULL, related_name="jobs")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="jobs")
    kind = models.CharField(max_length=16, choices=JobKind.choices)
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED)
    celery_task_id = models.CharField(max_length=64, blank=True)
    # The kind's typed spec as JSON (replication/job_specs.py): what to copy, delete or import.
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
    # The id of the request (API call or registry event) that caused it, so its logs can be followed.
    request_id = models.CharField(max_length=64, blank=True, default="", db_default="", db_index=True)

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


# Regional webhooks


class Webhook(models.Model):
    """A registry's webhook, bound to one region: events in that region are POSTed to service_uri.

    service_uri, custom_headers and secret are write-only in the API; secret signs every delivery.
    """

    registry = models.ForeignKey(Registry, on_delete=models.CASCADE, related_name="webhooks")
    name = models.CharField(max_length=50)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="webhooks")
    service_uri = models.URLField(max_length=2000)
    # A subset of WEBHOOK_SUBSCRIBABLE_ACTIONS, in that order.
    actions = models.JSONField(default=list)
    # '' for every repository, else "repo:tag" or "repo:*" (repository names without the registry prefix).
    scope = models.CharField(max_length=300, blank=True)
    custom_headers = models.JSONField(default=dict, blank=True)
    secret = models.CharField(max_length=200)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["registry__name", "name"]
        constraints = [
            models.UniqueConstraint(models.F("registry"), Lower("name"), name="webhook_name_unique_per_registry"),
        ]

    def __str__(self):
        return f"{self.registry.name}/{self.name}"


class WebhookDelivery(models.Model):
    """One event sent (or being sent) to one webhook, with every attempt logged in attempt_log."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField()
    action = models.CharField(max_length=16, choices=WebhookAction.choices)
    state = models.CharField(max_length=16, choices=WebhookDeliveryState.choices,
                             default=WebhookDeliveryState.PENDING)
    request_body = models.JSONField()
    # As sent, except custom header values, which may hold credentials.
    request_headers = models.JSONField(default=dict)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # [{"attempt", "at", "status", "duration_ms", "error"}], one per attempt.
    attempt_log = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # The id of the request (API call or registry event) that caused it, so its logs can be followed.
    request_id = models.CharField(max_length=64, blank=True, default="", db_default="", db_index=True)

    # The delivery this one sends again ("Redeliver"): same body, signed with the webhook's current secret.
    redelivery_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="redeliveries")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["webhook", "-created_at"], name="webhook_delivery_recent")]

    def __str__(self):
        return f"{self.action} to {self.webhook} ({self.state})"


# Continuous replication


class RegistryEvent(models.Model):
    """One manifest push or delete notified by a regional registry, recorded once per (region, event id)."""

    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="registry_events")
    registry = models.ForeignKey(Registry, on_delete=models.CASCADE, related_name="events")
    event_id = models.CharField(max_length=100)
    action = models.CharField(max_length=16, choices=RegistryEventAction.choices)
    repository = models.CharField(max_length=255)
    tag = models.CharField(max_length=128, blank=True)
    digest = models.CharField(max_length=100, blank=True)
    media_type = models.CharField(max_length=200, blank=True)
    size = models.BigIntegerField(default=0)
    # The registry's own clock: "the later push wins" compares these.
    timestamp = models.DateTimeField()
    # Pushed or deleted by our copy engine: confirms a copy, never fans out again.
    from_replication = models.BooleanField(default=False)
    user_agent = models.CharField(max_length=300, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # The fan-out run that claimed it (with every other pending event, as one batch): how a run knows its own.
    fan_out_claim = models.CharField(max_length=32, blank=True, default="", db_default="")

    class Meta:
        ordering = ["-timestamp", "-id"]
        constraints = [models.UniqueConstraint(fields=["region", "event_id"], name="registry_event_unique_id")]
        indexes = [models.Index(fields=["registry", "repository", "tag", "timestamp"], name="registry_event_tag"),
                   models.Index(fields=["registry", "repository", "digest", "timestamp"], name="registry_event_digest"),
                   # The fan-out drains every pending event at once: found without reading the history.
                   models.Index(fields=["timestamp"], condition=models.Q(processed_at__isnull=True),
                                name="registry_event_pending")]

    def __str__(self):
        reference = self.tag or self.digest
        return f"{self.action} {self.repository}:{reference} in {self.region_id}"


class ImageReplication(models.Model):
    """One image (repository + tag or digest) of a registry in one region: pending, complete or failed."""

    registry = models.ForeignKey(Registry, on_delete=models.CASCADE, related_name="image_replications")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="image_replications")
    repository = models.CharField(max_length=255)
    reference = models.CharField(max_length=128)  # a tag, or the digest of an untagged manifest
    digest = models.CharField(max_length=100)  # the manifest the region should hold under reference
    status = models.CharField(max_length=16, choices=ImageReplicationStatus.choices,
                              default=ImageReplicationStatus.PENDING)
    failure_reason = models.TextField(blank=True)
    source_region = models.ForeignKey(Region, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    job = models.ForeignKey(ReplicationJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="images")
    pushed_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The stages of the push's trip into this region (pushed_at is the registry event's own time, completed_at
    # the end), so `python -m bench push-stages` can say where a push waits: the portal recorded its event,
    # the fan-out queued the copy, a worker started it, the copy (by digest) finished.
    event_received_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    copy_started_at = models.DateTimeField(null=True, blank=True)
    copy_finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["repository", "reference", "region__name"]
        constraints = [models.UniqueConstraint(fields=["registry", "region", "repository", "reference"],
                                               name="image_replication_unique")]
        indexes = [models.Index(fields=["registry", "repository", "digest"], name="image_replication_digest"),
                   models.Index(fields=["region", "status", "pushed_at"], name="image_replication_pending")]

    def __str__(self):
        return f"{self.repository}:{self.reference}@{self.region_id} {self.status}"

    @property
    def lag(self):
        """completed_at − pushed_at, or None while it is not complete."""
        if self.completed_at is None:
            return None
        # Clocks of different registries may disagree by a little: never report a negative lag.
        return max(self.completed_at - self.pushed_at, timedelta(0))


class ReconcileRun(models.Model):
    """One comparison of a registry's replicas: what differed and which copies or deletes it queued."""

    registry = models.ForeignKey(Registry, on_delete=models.CASCADE, related_name="reconcile_runs")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    regions_checked = models.JSONField(default=list)  # region names compared
    regions_unreachable = models.JSONField(default=dict)  # region name -> error
    tags_checked = models.PositiveIntegerField(default=0)
    # [{"repository", "tag", "region", "problem": missing|different|deleted, "digest"}], capped.
    differences = models.JSONField(default=list)
    difference_count = models.PositiveIntegerField(default=0)
    jobs_queued = models.JSONField(default=list)  # ReplicationJob ids
    error = models.TextField(blank=True)
    # A HEAD of every tag (every REPLICATION_RECONCILE_FULL_SECONDS), or only of those our records do not know;
    # and how many requests the run sent to the regions' registries.
    full_pass = models.BooleanField(default=False, db_default=False)
    requests_sent = models.PositiveIntegerField(default=0, db_default=0)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self):
        return f"reconcile {self.registry_id} at {self.started_at:%Y-%m-%d %H:%M:%S}"


class ScrubRun(models.Model):
    """One scrub of a replica's storage: every blob and manifest its images need there, read and hashed.

    Its job (kind scrub) carries state and progress; the run keeps the counts and the findings.
    """

    registry = models.ForeignKey(Registry, on_delete=models.CASCADE, related_name="scrub_runs")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="scrub_runs")
    job = models.OneToOneField(ReplicationJob, null=True, on_delete=models.SET_NULL, related_name="scrub_run")
    trigger = models.CharField(max_length=40, blank=True)  # "" someone asked; "schedule": beat
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    manifests_checked = models.PositiveIntegerField(default=0)
    blobs_checked = models.PositiveIntegerField(default=0)
    bytes_checked = models.BigIntegerField(default=0)
    corrupt_found = models.PositiveIntegerField(default=0)  # corrupted or missing blobs and manifests
    repaired = models.PositiveIntegerField(default=0)
    unrecoverable = models.PositiveIntegerField(default=0)
    # [{"digest", "kind": blob|manifest, "problem": ScrubProblem, "size", "repositories", "outcome": ScrubOutcome,
    #   "source_region", "detail"}]
    findings = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["registry", "region", "-created_at"])]

    def __str__(self):
        return f"scrub {self.pk} {self.registry_id}@{self.region_id}"


# Access control


class RoleAssignment(models.Model):
    """A user's role on one registry; a user's permissions are the union of their roles'."""

    registry = models.ForeignKey(Registry, on_delete=models.CASCADE, related_name="role_assignments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="registry_roles")
    role = models.CharField(max_length=16, choices=RegistryRole.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["registry__name", "user__username", "role"]
        constraints = [models.UniqueConstraint(fields=["registry", "user", "role"], name="role_assignment_unique")]

    def __str__(self):
        return f"{self.user} {self.role} on {self.registry.name}"


class RegistryToken(models.Model):
    """A non-human credential of one registry (ACR's tokens and scope maps, Harbor's robot accounts).

    Its username is "<registry>/<name>" ("/" cannot occur in a portal username); the password is
    shown once and stored only as a Django password hash.
    """

    registry = models.ForeignKey(Registry, on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(max_length=50)
    password_hash = models.CharField(max_length=200)
    # [{"repository": "apps/*" | "apps/web" | "*", "actions": ["pull", "push", "delete"]}], names inside the registry.
    scope = models.JSONField(default=list)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["registry__name", "name"]
        constraints = [
            models.UniqueConstraint(models.F("registry"), Lower("name"), name="registry_token_name_unique"),
        ]

    def __str__(self):
        return f"{self.registry.name}/{self.name}"


# Activity log


class ActivityRecord(models.Model):
    """One change made to a registry: who, what, on which target, when. Never holds a secret.

    The registry and the actor are kept as text too, so the record stays readable (by staff) after
    the registry or the user is deleted.
    """

    registry = models.ForeignKey(Registry, null=True, blank=True, on_delete=models.SET_NULL, related_name="activity")
    registry_name = models.CharField(max_length=50)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_name = models.CharField(max_length=150, blank=True)
    actor_kind = models.CharField(max_length=10, choices=ActivityActorKind.choices)
    action = models.CharField(max_length=40, choices=ActivityAction.choices)
    target = models.CharField(max_length=200, blank=True, help_text="The region, webhook, user or token changed.")
    # Old and new values; never passwords, secrets, header values or service URIs beyond scheme://host.
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["registry", "-created_at"], name="activity_record_recent")]

    def __str__(self):
        return f"{self.registry_name}: {self.action} {self.target} by {self.actor_name or self.actor_kind}"


class RoutedPush(models.Model):
    """A tag push the global endpoint forwarded and the region accepted.

    Known the moment the region answers 201, before the region's own event reaches the portal,
    so a pull right after a push through the endpoint resolves the tag to the new digest.
    """

    registry = models.ForeignKey(Registry, on_delete=models.CASCADE, related_name="routed_pushes")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    repository = models.CharField(max_length=255)
    tag = models.CharField(max_length=128)
    digest = models.CharField(max_length=100)
    pushed_at = models.DateTimeField()

    class Meta:
        ordering = ["-pushed_at", "-id"]
        indexes = [models.Index(fields=["registry", "repository", "tag", "pushed_at"], name="routed_push_tag")]

    def __str__(self):
        return f"{self.repository}:{self.tag}@{self.digest[:19]} via {self.region_id}"


class RoutingCounter(models.Model):
    """How many requests of one kind the global endpoint routed to one region (one UPDATE each)."""

    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="routing_counters")
    decision = models.CharField(max_length=20, choices=RoutingDecision.choices)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["region", "decision"], name="routing_counter_unique")]

    def __str__(self):
        return f"{self.region_id} {self.decision}: {self.count}"
