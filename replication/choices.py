"""Every enumeration of the product, with its colour and allowed transitions.

The map, the badges in tables and the API all read colours and names from here.
"""
from django.db import models


class RegionState(models.TextChoices):
    """How a region looks on a registry's map."""

    REPLICA = "replica", "Replica"
    AVAILABLE = "available", "Available"
    UNAVAILABLE = "unavailable", "Unavailable"

    @property
    def colour(self) -> str:
        return REGION_STATE_COLOURS[self]


REGION_STATE_COLOURS = {
    RegionState.REPLICA: "#1f6feb",  # blue
    RegionState.AVAILABLE: "#2da44e",  # green
    RegionState.UNAVAILABLE: "#8c959f",  # gray
}


class RegionHealthState(models.TextChoices):
    """What the periodic probe last saw of a region's registry (GET /v2/)."""

    UP = "up", "Up"
    DOWN = "down", "Down"
    UNKNOWN = "unknown", "Unknown"  # not probed since its endpoint was set, or no endpoint / disabled

    @property
    def colour(self) -> str:
        return REGION_HEALTH_STATE_COLOURS[self]


REGION_HEALTH_STATE_COLOURS = {
    RegionHealthState.UP: "#1a7f37",  # green
    RegionHealthState.DOWN: "#cf222e",  # red
    RegionHealthState.UNKNOWN: "#8c959f",  # gray
}


class ReplicaStatus(models.TextChoices):
    CREATING = "creating", "Creating"
    SYNCING = "syncing", "Syncing"
    READY = "ready", "Ready"
    DEGRADED = "degraded", "Degraded"
    FAILED = "failed", "Failed"
    DELETING = "deleting", "Deleting"

    @property
    def colour(self) -> str:
        return REPLICA_STATUS_COLOURS[self]


REPLICA_STATUS_COLOURS = {
    ReplicaStatus.CREATING: "#bf8700",  # amber
    ReplicaStatus.SYNCING: "#0969da",  # blue
    ReplicaStatus.READY: "#1a7f37",  # green
    ReplicaStatus.DEGRADED: "#d4a72c",  # yellow
    ReplicaStatus.FAILED: "#cf222e",  # red
    ReplicaStatus.DELETING: "#6e7781",  # gray
}


class JobKind(models.TextChoices):
    """What a ReplicationJob does; each kind has one module in replication/jobs/kinds/."""

    INITIAL_SYNC = "initial", "Initial sync"
    RESYNC = "resync", "Resync"
    EVENT_COPY = "event_copy", "Event copy"
    EVENT_DELETE = "event_delete", "Event delete"
    IMPORT = "import", "Import"
    PURGE = "purge", "Purge"
    SCRUB = "scrub", "Scrub"


# Jobs that copy a whole registry into a replica: only these set the replica's status.
# Event and import jobs move single images; their outcome is per image (image status), not per replica.
WHOLE_REPLICA_JOB_KINDS = frozenset({JobKind.INITIAL_SYNC, JobKind.RESYNC})
# Jobs that carry one push or delete (from an event, or from the reconcile loop) to one region.
EVENT_JOB_KINDS = frozenset({JobKind.EVENT_COPY, JobKind.EVENT_DELETE})


class ScrubProblem(models.TextChoices):
    """What a scrub found wrong with one blob or manifest of a region."""

    CORRUPT = "corrupt", "Corrupted (its bytes do not hash to its digest)"
    MISSING = "missing", "Missing (referenced but not stored)"


class ScrubFindingKind(models.TextChoices):
    """What a scrub finding is about (the engine's oci.scrub.BLOB / MANIFEST)."""

    BLOB = "blob", "Blob"
    MANIFEST = "manifest", "Manifest"


class ScrubOutcome(models.TextChoices):
    """What became of one finding of a scrub."""

    REPAIRED = "repaired", "Repaired"
    UNRECOVERABLE = "unrecoverable", "Unrecoverable"


class ReplicationOrigin(models.TextChoices):
    """Why an event copy or delete was queued."""

    EVENT = "event", "A registry event"
    RECONCILE = "reconcile", "The reconcile loop"


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"

    @property
    def colour(self) -> str:
        return JOB_STATE_COLOURS[self]

    @property
    def is_final(self) -> bool:
        return self in FINAL_JOB_STATES


JOB_STATE_COLOURS = {
    JobState.QUEUED: "#bf8700",
    JobState.RUNNING: "#0969da",
    JobState.SUCCEEDED: "#1a7f37",
    JobState.FAILED: "#cf222e",
    JobState.CANCELED: "#6e7781",
}

FINAL_JOB_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELED})

# A running job goes back to queued when its task is retried with backoff or its worker died.
JOB_TRANSITIONS = {
    JobState.QUEUED: frozenset({JobState.RUNNING, JobState.CANCELED, JobState.FAILED}),
    JobState.RUNNING: frozenset({JobState.QUEUED, JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELED}),
    JobState.SUCCEEDED: frozenset(),
    JobState.FAILED: frozenset(),
    JobState.CANCELED: frozenset(),
}


class SkuTier(models.TextChoices):
    BASIC = "Basic", "Basic"
    STANDARD = "Standard", "Standard"
    PREMIUM = "Premium", "Premium"


# Pulls without credentials are a Standard and Premium feature, as in ACR.
ANONYMOUS_PULL_SKUS = frozenset({SkuTier.STANDARD, SkuTier.PREMIUM})


# Regional webhooks


class WebhookAction(models.TextChoices):
    """What a webhook can subscribe to; `ping` is only ever sent on request."""

    PUSH = "push", "Push"
    DELETE = "delete", "Delete"
    REPLICATED = "replicated", "Replicated"
    PING = "ping", "Ping"


# The actions a webhook may subscribe to (ping is sent on request, never subscribed).
WEBHOOK_SUBSCRIBABLE_ACTIONS = (WebhookAction.PUSH, WebhookAction.DELETE, WebhookAction.REPLICATED)


class WebhookDeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"

    @property
    def colour(self) -> str:
        return WEBHOOK_DELIVERY_STATE_COLOURS[self]


WEBHOOK_DELIVERY_STATE_COLOURS = {
    WebhookDeliveryState.PENDING: "#bf8700",  # amber
    WebhookDeliveryState.SUCCEEDED: "#1a7f37",  # green
    WebhookDeliveryState.FAILED: "#cf222e",  # red
}


class ImageReplicationStatus(models.TextChoices):
    """Where one image stands in one region (the ECR DescribeImageReplicationStatus vocabulary)."""

    PENDING = "pending", "Pending"
    COMPLETE = "complete", "Complete"
    FAILED = "failed", "Failed"

    @property
    def colour(self) -> str:
        return IMAGE_REPLICATION_STATUS_COLOURS[self]


IMAGE_REPLICATION_STATUS_COLOURS = {
    ImageReplicationStatus.PENDING: "#bf8700",  # amber
    ImageReplicationStatus.COMPLETE: "#1a7f37",  # green
    ImageReplicationStatus.FAILED: "#cf222e",  # red
}


class RegistryEventAction(models.TextChoices):
    PUSH = "push", "Push"
    DELETE = "delete", "Delete"


# Access control


class RegistryRole(models.TextChoices):
    """Built-in roles on one registry, after Azure Container Registry's (AcrPull, AcrPush, AcrDelete, ...)."""

    OWNER = "owner", "Owner"
    CONTRIBUTOR = "contributor", "Contributor"
    PUSH = "push", "Push"
    PULL = "pull", "Pull"
    DELETE = "delete", "Delete"


class RegistryPermission(models.TextChoices):
    """What a caller may do with a registry; each route checks one of these."""

    READ = "read", "See the registry"  # its pages and API reads
    MANAGE = "manage", "Manage replicas, SKU, webhooks and imports"
    ADMINISTER = "administer", "Manage roles and registry tokens, delete the registry"
    PULL = "pull", "Pull images"
    PUSH = "push", "Push images"
    DELETE = "delete", "Delete images"


_P = RegistryPermission
ROLE_PERMISSIONS = {
    RegistryRole.OWNER: frozenset(_P),
    RegistryRole.CONTRIBUTOR: frozenset({_P.READ, _P.MANAGE, _P.PULL, _P.PUSH, _P.DELETE}),
    RegistryRole.PUSH: frozenset({_P.READ, _P.PULL, _P.PUSH}),
    RegistryRole.PULL: frozenset({_P.READ, _P.PULL}),
    RegistryRole.DELETE: frozenset({_P.READ, _P.DELETE}),
}

# The permissions that are also actions of the OCI token flow's `repository:NAME:ACTIONS` scopes.
REPOSITORY_ACTIONS = (_P.PULL, _P.PUSH, _P.DELETE)


# Activity log


class ActivityAction(models.TextChoices):
    """What an activity record says was changed on a registry."""

    REGISTRY_CREATE = "registry.create", "Registry created"
    REGISTRY_DELETE = "registry.delete", "Registry deleted"
    REGISTRY_SKU_CHANGE = "registry.sku_change", "SKU changed"
    REGISTRY_ANONYMOUS_PULL = "registry.anonymous_pull", "Anonymous pull switched"
    REPLICA_CREATE = "replica.create", "Replica created"
    REPLICA_DELETE = "replica.delete", "Replica deleted"
    REPLICA_RESYNC = "replica.resync", "Replica sync queued"
    REPLICA_ROUTING = "replica.routing", "Replica routing switched"
    REPLICA_SCRUB = "replica.scrub", "Replica storage scrub queued"
    WEBHOOK_CREATE = "webhook.create", "Webhook created"
    WEBHOOK_UPDATE = "webhook.update", "Webhook changed"
    WEBHOOK_DELETE = "webhook.delete", "Webhook deleted"
    WEBHOOK_PING = "webhook.ping", "Webhook pinged"
    WEBHOOK_REDELIVER = "webhook.redeliver", "Webhook delivery sent again"
    IMPORT_CREATE = "import.create", "Image import queued"
    ROLE_ASSIGN = "role.assign", "Role assigned"
    ROLE_REMOVE = "role.remove", "Role removed"
    TOKEN_CREATE = "token.create", "Token created"
    TOKEN_DELETE = "token.delete", "Token revoked"


# Records about who can reach the registry: shown only to those who may read roles and tokens (administer).
ACCESS_ACTIVITY_ACTIONS = frozenset({ActivityAction.ROLE_ASSIGN, ActivityAction.ROLE_REMOVE,
                                     ActivityAction.TOKEN_CREATE, ActivityAction.TOKEN_DELETE})


class ActivityActorKind(models.TextChoices):
    """Who made a change: a portal user, or the system (operator commands, the demo, migrations)."""

    USER = "user", "User"
    SYSTEM = "system", "System"


# The global endpoint


class RoutingDecision(models.TextChoices):
    """What the global endpoint did with one request, counted per region (the metrics of routing)."""

    SERVED = "served", "Served"  # answered from the client's nearest routable replica
    REDIRECTED = "redirected", "Redirected"  # a blob download sent (307) to the region's data endpoint
    FAILED_OVER = "failed_over", "Failed over"  # the nearer region failed mid-request; this one answered
    STALE_AVOIDED = "stale_avoided", "Stale avoided"  # a nearer region lacked the content or the tag's latest digest


class RoutingExclusion(models.TextChoices):
    """Why a replica takes no traffic from the global endpoint now."""

    ROUTING_OFF = "routing off", "Routing off"  # region_endpoint_enabled is off (or no data plane)
    UNHEALTHY = "unhealthy", "Unhealthy"
    COOLING_DOWN = "cooling down", "Cooling down"  # healthy again, but not for long enough
    CATCHING_UP = "catching up", "Catching up"  # degraded: images pending
    NOT_READY = "not ready", "Not ready"  # creating, syncing, failed, deleting


# Health shown to people and in the API (issue 11)


class HealthState(models.TextChoices):
    """A region's health as the API and the pages say it, from the recorded probe (RegionHealthState)."""

    HEALTHY = "healthy", "Healthy"
    UNREACHABLE = "unreachable", "Unreachable"
    UNKNOWN = "unknown", "Unknown"  # never probed, or no data plane deployed there


HEALTH_STATE_BY_PROBE = {
    RegionHealthState.UP: HealthState.HEALTHY,
    RegionHealthState.DOWN: HealthState.UNREACHABLE,
    RegionHealthState.UNKNOWN: HealthState.UNKNOWN,
}


class ReplicaDisplayState(models.TextChoices):
    """What a replica is shown as everywhere (table, overview, list, map): its status, unless its region
    is unreachable, which outranks every status but deleting (a delete says itself that it waits)."""

    CREATING = ReplicaStatus.CREATING.value, ReplicaStatus.CREATING.label
    SYNCING = ReplicaStatus.SYNCING.value, ReplicaStatus.SYNCING.label
    READY = ReplicaStatus.READY.value, ReplicaStatus.READY.label
    DEGRADED = ReplicaStatus.DEGRADED.value, ReplicaStatus.DEGRADED.label
    FAILED = ReplicaStatus.FAILED.value, ReplicaStatus.FAILED.label
    DELETING = ReplicaStatus.DELETING.value, ReplicaStatus.DELETING.label
    UNREACHABLE = "unreachable", "Unreachable"

    @property
    def colour(self) -> str:
        return REPLICA_DISPLAY_STATE_COLOURS[self]

    @property
    def ring_colour(self) -> str:
        return REPLICA_MAP_RING_COLOURS[self]

    @property
    def glyph(self) -> str:
        return REPLICA_MAP_GLYPHS[self]

    @property
    def map_label(self) -> str:
        return REPLICA_MAP_LABELS.get(self, self.label)


REPLICA_DISPLAY_STATE_COLOURS = {
    **{ReplicaDisplayState(status.value): colour for status, colour in REPLICA_STATUS_COLOURS.items()},
    ReplicaDisplayState.UNREACHABLE: "#82071e",  # dark red: nothing there answers
}

# Metrics and charts


class CopyFailureReason(models.TextChoices):
    """The class of a failed copy attempt: the `reason` label of georegistry_copy_failures_total."""

    TIMEOUT = "timeout", "A registry did not answer in time"
    UNREACHABLE = "unreachable", "A registry could not be reached"
    AUTH = "auth", "A registry refused the engine's credentials (401/403)"
    NOT_FOUND = "not_found", "The source lacked the content (404)"
    THROTTLED = "throttled", "A registry asked to slow down (429)"
    NO_SPACE = "no_space", "A registry's storage is full"
    REGISTRY_ERROR = "registry_error", "A registry failed (5xx)"
    REFUSED = "refused", "A registry refused the request (other 4xx)"
    WAITING = "waiting", "Told to wait (no source ready yet)"
    INVALID_SPEC = "invalid_spec", "The job's spec is not valid"
    OTHER = "other", "Anything else"


# Jobs that copy images into a region: the ones georegistry_copies_total and copy failures count.
COPY_JOB_KINDS = frozenset({JobKind.INITIAL_SYNC, JobKind.RESYNC, JobKind.EVENT_COPY, JobKind.IMPORT})


class MetricsWindow(models.TextChoices):
    """The windows of the registry page's charts and of GET registries/{name}/metrics/."""

    DAY = "24h", "Last 24 hours"
    WEEK = "7d", "Last 7 days"


# window -> (its length in hours, the width of one bucket in hours)
METRICS_WINDOW_BUCKETS = {MetricsWindow.DAY: (24, 1), MetricsWindow.WEEK: (7 * 24, 6)}

# One colour per region in the registry page's charts, by the region's place among the registry's replicas
# (colour-blind-safe Okabe–Ito order); more regions than colours wrap around.
CHART_SERIES_COLOURS = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#000000", "#f0e442")

# Job history: what set a job off, when its spec does not say (event copies and deletes carry their origin).
JOB_KIND_TRIGGERS = {
    JobKind.INITIAL_SYNC: "Replica created",
    JobKind.RESYNC: "Sync again",
    JobKind.EVENT_COPY: ReplicationOrigin.EVENT.label,
    JobKind.EVENT_DELETE: ReplicationOrigin.EVENT.label,
    JobKind.IMPORT: "Image import",
    JobKind.PURGE: "Registry deleted",
    JobKind.SCRUB: "Verify storage",
}
SCRUB_SCHEDULED = "schedule"  # ScrubRun.trigger and ScrubSpec.trigger of a scrub beat queued (SCRUB_INTERVAL_SECONDS)
SCRUB_SCHEDULE_TRIGGER = "Scheduled scrub"  # ... and its trigger in words
REPLICA_PURGE_TRIGGER = "Replica deleted"  # a purge that removes its replica row once the region is empty

# The map's marker on a replica's hexagon (the fill stays RegionState.REPLICA's blue): the display state's ring,
# glyph and words (ReplicaDisplayState.ring_colour, .glyph, .map_label).
REPLICA_MAP_RING_COLOURS = {
    **REPLICA_DISPLAY_STATE_COLOURS,
    ReplicaDisplayState.READY: "#ffffff",  # a plain white edge: nothing to report
}
# The icon drawn on the hexagon (creating and syncing show their percentage instead).
REPLICA_MAP_GLYPHS = {
    ReplicaDisplayState.CREATING: "+",
    ReplicaDisplayState.SYNCING: "⟳",
    ReplicaDisplayState.READY: "",
    ReplicaDisplayState.DEGRADED: "!",
    ReplicaDisplayState.FAILED: "✕",
    ReplicaDisplayState.DELETING: "−",
    ReplicaDisplayState.UNREACHABLE: "⚡",
}
# On the map the word must say why on its own (no status line beside it).
REPLICA_MAP_LABELS = {ReplicaDisplayState.UNREACHABLE: "Unreachable (region down)"}

# A replica that takes no traffic from the global endpoint (routing off) is drawn hatched.
ROUTING_OFF_LABEL = "routing off"
