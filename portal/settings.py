"""Settings from environment variables, with safe defaults for one local machine.

Defaults: SQLite under var/, Celery's filesystem broker under var/broker/.
Production: DATABASE_URL (PostgreSQL), CELERY_BROKER_URL (Redis or RabbitMQ).
"""
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from portal.local_secrets import private_dir_ensure, private_file_create, private_file_restrict, secret_key_file_read
from replication.log_context import logging_config as log_context_logging_config
from replication.oci.cli import concurrency_setting

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = private_dir_ensure(Path(os.environ.get("GEOREGISTRY_VAR_DIR", BASE_DIR / "var")))

# Off unless asked for: a debug page shows settings, source and tracebacks to whoever triggers an error.
DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"
_PUBLIC_DEVELOPMENT_KEY = "dev-only-insecure-key-change-me-in-production"
# `make run` generates it once (python -m portal.local_secrets); DJANGO_SECRET_KEY wins when set.
SECRET_KEY_FILE = VAR_DIR / "secret-key.txt"
SECRET_KEY = (
    os.environ.get("DJANGO_SECRET_KEY")
    # Test runs and the worker processes they start share one key of their own.
    or ("test-only-key-of-pytest-runs-never-used-outside-them" if os.environ.get("PYTEST_VERSION") else "")
    or secret_key_file_read(SECRET_KEY_FILE)
    or (_PUBLIC_DEVELOPMENT_KEY if DEBUG else "")
)
if not DEBUG and SECRET_KEY in ("", _PUBLIC_DEVELOPMENT_KEY):
    # Everyone can read the public key: sessions, region tokens and stored credentials would be forgeable.
    raise ImproperlyConfigured(
        f"No SECRET_KEY: set DJANGO_SECRET_KEY, or create {SECRET_KEY_FILE} with `python -m portal.local_secrets` "
        "(make run does), or set DJANGO_DEBUG=1 for development."
    )
# Earlier keys, comma-separated, still accepted while a rotation rolls out (sealed import credentials,
# sessions).
SECRET_KEY_FALLBACKS = [key for key in os.environ.get("DJANGO_SECRET_KEY_FALLBACKS", "").split(",") if key]
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "replication",
]

MIDDLEWARE = [
    # First, so that it sees every error of the layers below it, and can refuse a large body before it is read.
    "replication.api.error_middleware.ApiJsonErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves static/ with DEBUG off (runserver only serves it with DEBUG on).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'portal.sqlite3'}",
        conn_max_age=60,
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Worker and web server write at the same time: wait for the lock instead of failing.
    DATABASES["default"]["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE",
                                       # Write-ahead log: readers (pages, the intake's lookups) never wait for the
                                       # worker's writes nor block them; a burst's intake waited seconds without it.
                                       "init_command": "PRAGMA journal_mode=WAL;"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # A file (not memory) so worker processes started by tests share it; one per test run.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-portal-{os.getpid()}.sqlite3")}
    _sqlite_file = Path(DATABASES["default"]["NAME"])
    if DATABASES["default"]["NAME"] != ":memory:" and _sqlite_file.parent.is_dir():
        # SQLite gives its -wal/-shm/-journal files the database file's mode: create it 0600 before SQLite does.
        private_file_create(_sqlite_file)
        for _suffix in ("-wal", "-shm", "-journal"):
            private_file_restrict(_sqlite_file.with_name(_sqlite_file.name + _suffix))

# One cache for every process of the portal (sign-in throttling counts failures there): a table in the
# database by default (created by `migrate`), Redis when CACHE_URL says redis://, per process with locmem://.
CACHE_URL = os.environ.get("CACHE_URL", "")
if CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
elif CACHE_URL.startswith("locmem://"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "portal_cache"}}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = []
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"  # filled by collectstatic (run_local does it); WhiteNoise serves it
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns at every start about a missing one (tests never collect)

# API bodies: larger ones are a 413 before they are read (Distribution's event batches are a few kB);
# JSON nested deeper than API_JSON_MAX_DEPTH is a 400 (Python's parser would recurse until it fails).
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DATA_UPLOAD_MAX_MEMORY_SIZE", 1024 * 1024))
API_JSON_MAX_DEPTH = int(os.environ.get("API_JSON_MAX_DEPTH", "64"))

# Sign-in throttling (replication/throttling.py), for the login page, API tokens and registry tokens:
# after this many failures within the window, per user name or per client address, answer 429.
SIGN_IN_FAILURES_PER_USERNAME = int(os.environ.get("SIGN_IN_FAILURES_PER_USERNAME", "10"))
SIGN_IN_FAILURES_PER_ADDRESS = int(os.environ.get("SIGN_IN_FAILURES_PER_ADDRESS", "20"))
SIGN_IN_FAILURE_WINDOW_SECONDS = int(os.environ.get("SIGN_IN_FAILURE_WINDOW_SECONDS", "300"))

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/registries/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Signed in, and (on routes about one registry) a role that allows the method: replication/api/permissions.py
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated",
                                   "replication.api.permissions.RegistryAccess"],
    # drf-spectacular's, with the error answers every operation may give (400, 401, 403, 404, 409, 413).
    "DEFAULT_SCHEMA_CLASS": "replication.api.schema.ApiAutoSchema",
    "DEFAULT_PARSER_CLASSES": [
        "replication.api.parsers.DepthLimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "replication.api.errors.exception_handler",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Geo-replicated registry API",
    "DESCRIPTION": "Registries, replicas across regions, and replication jobs.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One name for the SKU tiers, which Sku.name and the registry's sku both use; one for a job's state, which
    # the job and the job history both show.
    "ENUM_NAME_OVERRIDES": {"SkuTierEnum": "replication.choices.SkuTier",
                            "JobStateEnum": "replication.choices.JobState",
                            "JobKindEnum": "replication.choices.JobKind",
                            "ScrubFindingKindEnum": "replication.choices.ScrubFindingKind"},
}

# Celery: one queue per region ("region.<name>"), so a region's worker can run in that region.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
# Under pytest each run gets its own folder, so concurrent test runs never take each other's tasks.
_default_broker_folder = VAR_DIR / "test-broker" / str(os.getpid()) if os.environ.get("PYTEST_VERSION") else VAR_DIR / "broker"
CELERY_BROKER_FOLDER = Path(os.environ.get("CELERY_BROKER_FOLDER", _default_broker_folder))
if CELERY_BROKER_URL.startswith("filesystem://"):
    # Messages carry job specs (an import's encrypted credentials): this user only.
    private_dir_ensure(CELERY_BROKER_FOLDER)
    for _folder in ("queue", "processed", "control"):
        private_dir_ensure(CELERY_BROKER_FOLDER / _folder)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_FOLDER / "queue"),
        "data_folder_out": str(CELERY_BROKER_FOLDER / "queue"),
        "processed_folder": str(CELERY_BROKER_FOLDER / "processed"),
        # Otherwise kombu keeps its fanout bookkeeping in ./control of whatever folder it was started in.
        "control_folder": str(CELERY_BROKER_FOLDER / "control"),
        # The default 1 s poll adds up to a second per hop (portal queue, then region queue) to every copy;
        # 0.1 s: a push's two hops wait 0.1 s on average (bench push-stages), for a listdir per queue 10 times a second.
        "polling_interval": 0.1,
        "store_processed": False,
    }
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "portal"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True

# Registry data planes: how the portal reaches each region and how regions reach the portal.
PORTAL_BASE_URL = os.environ.get("PORTAL_BASE_URL", "http://127.0.0.1:8000")
LOCAL_REGIONS_BASE_PORT = int(os.environ.get("LOCAL_REGIONS_BASE_PORT", "5101"))
REGION_HEALTH_TIMEOUT = float(os.environ.get("REGION_HEALTH_TIMEOUT", "1.0"))
# Pages and API reads show the health recorded by a probe that beat runs this often (seconds).
REGION_HEALTH_INTERVAL = float(os.environ.get("REGION_HEALTH_INTERVAL", "5"))
REPLICATION_CONCURRENCY = concurrency_setting()

REGISTRY_HTTP_TIMEOUT = float(os.environ.get("REGISTRY_HTTP_TIMEOUT", "60"))
REPLICATION_STALE_SECONDS = int(os.environ.get("REPLICATION_STALE_SECONDS", "120"))
WEBHOOK_HTTP_TIMEOUT = float(os.environ.get("WEBHOOK_HTTP_TIMEOUT", "10"))
# Comma-separated CIDRs that webhooks and imports may reach although private (on-premises receivers);
# empty: loopback, link-local, private and other non-public addresses are refused (replication/outbound.py).
OUTBOUND_ALLOWED_NETWORKS = os.environ.get("OUTBOUND_ALLOWED_NETWORKS", "")


def _retry_settings(purpose: str, *, max_retries: int, backoff: float, backoff_max: float) -> dict:
    """<PURPOSE>_MAX_RETRIES, <PURPOSE>_RETRY_BACKOFF (first wait, s), <PURPOSE>_RETRY_BACKOFF_MAX (cap, s)."""
    return {
        f"{purpose}_MAX_RETRIES": int(os.environ.get(f"{purpose}_MAX_RETRIES", max_retries)),
        f"{purpose}_RETRY_BACKOFF": float(os.environ.get(f"{purpose}_RETRY_BACKOFF", backoff)),
        f"{purpose}_RETRY_BACKOFF_MAX": float(os.environ.get(f"{purpose}_RETRY_BACKOFF_MAX", backoff_max)),
    }


# One retry policy (replication/jobs/retry.py): waits of BACKOFF * 2**n s, capped, with full jitter.
globals().update(
    **_retry_settings("REPLICATION", max_retries=4, backoff=2, backoff_max=300),  # replication jobs
    **_retry_settings("WEBHOOK", max_retries=5, backoff=10, backoff_max=3600),  # webhook deliveries
    **_retry_settings("EVENTS", max_retries=5, backoff=1, backoff_max=60),  # fan-out of registry events
    **_retry_settings("REGISTRY_HTTP", max_retries=2, backoff=0.2, backoff_max=2),  # one request to a registry
)
RETRY_JITTER = os.environ.get("RETRY_JITTER", "1") == "1"
# A global login name such as "{name}.registry.example.com"; empty: the home region's registry host.
REGISTRY_LOGIN_SERVER_TEMPLATE = os.environ.get("REGISTRY_LOGIN_SERVER_TEMPLATE", "")
# Regions whose registries `manage.py run_regions` / `run_local` start on this machine, on consecutive ports.
LOCAL_REGIONS = [r for r in os.environ.get("LOCAL_REGIONS", "westus,eastus,canadacentral,westeurope,northeurope,southeastasia").split(",") if r]
LOCAL_REGIONS_DIR = VAR_DIR / "regions"
# Continuous replication: a replica whose pending work is older than this shows "degraded";
# the reconcile pass (Celery beat) runs every REPLICATION_RECONCILE_SECONDS.
REPLICATION_DEGRADED_AFTER_SECONDS = int(os.environ.get("REPLICATION_DEGRADED_AFTER_SECONDS", "300"))
REPLICATION_RECONCILE_SECONDS = float(os.environ.get("REPLICATION_RECONCILE_SECONDS", "120"))
# Between full passes (a HEAD of every tag in every region) reconcile reads tag lists and HEADs only the tags
# our records do not know in that region.
REPLICATION_RECONCILE_FULL_SECONDS = float(os.environ.get("REPLICATION_RECONCILE_FULL_SECONDS", "3600"))
CELERY_BEAT_SCHEDULE = {
    "reconcile-replicas": {"task": "replication.tasks.reconcile_replicas", "schedule": REPLICATION_RECONCILE_SECONDS,
                           "options": {"queue": "portal"}},
    "refresh-degraded-replicas": {"task": "replication.tasks.refresh_degraded_replicas", "schedule": 30.0,
                                  "options": {"queue": "portal"}},
    # A probe that waited longer than one interval is dropped: the next one is already due.
    "probe-region-health": {"task": "replication.tasks.probe_region_health", "schedule": REGION_HEALTH_INTERVAL,
                            "options": {"queue": "portal", "expires": REGION_HEALTH_INTERVAL}},
}
# The token service: the portal signs the registry tokens every regional registry trusts (OCI token flow).
TOKEN_SIGNING_DIR = Path(os.environ.get("TOKEN_SIGNING_DIR", VAR_DIR / "token-signing"))
TOKEN_SERVICE_NAME = os.environ.get("TOKEN_SERVICE_NAME", "georegistry")  # one `service` for the whole fleet
TOKEN_ISSUER = os.environ.get("TOKEN_ISSUER", "georegistry-portal")
REGISTRY_TOKEN_LIFETIME = int(os.environ.get("REGISTRY_TOKEN_LIFETIME", "300"))  # seconds
# The replication engine's identity: credentials minted per copy, valid this long (a queued job may wait).
REPLICATION_IDENTITY = "georegistry-replication"
REPLICATION_CREDENTIALS_MAX_AGE = int(os.environ.get("REPLICATION_CREDENTIALS_MAX_AGE", str(24 * 3600)))

# The global endpoint (`manage.py run_endpoint`): one /v2/ login server for every region.
GLOBAL_ENDPOINT_URL = os.environ.get("GLOBAL_ENDPOINT_URL", "http://127.0.0.1:5100")
# A host pinned to one replica, "{name}.{region}.geo.example.com"; empty: the region's registry host itself.
REGIONAL_ENDPOINT_TEMPLATE = os.environ.get("REGIONAL_ENDPOINT_TEMPLATE", "")
# "CIDR=region,CIDR=region": which region a client is in, by its address (most specific network wins).
CLIENT_NETWORKS = os.environ.get("CLIENT_NETWORKS", "")
# The region of a client outside every CLIENT_NETWORKS entry; empty: the registry's home region.
CLIENT_DEFAULT_REGION = os.environ.get("CLIENT_DEFAULT_REGION", "")
# Peers (CIDRs) whose X-Forwarded-For is believed (its first hop); anyone else could forge it.
TRUSTED_PROXIES = os.environ.get("TRUSTED_PROXIES", "")
# A region that came back up takes traffic again only after being up this long (seconds).
ROUTING_FAILBACK_COOLDOWN = float(os.environ.get("ROUTING_FAILBACK_COOLDOWN", "30"))
# One relayed request to a region (connect, read); a dead region fails over after the connect timeout.
ENDPOINT_UPSTREAM_CONNECT_TIMEOUT = float(os.environ.get("ENDPOINT_UPSTREAM_CONNECT_TIMEOUT", "1.0"))
ENDPOINT_UPSTREAM_TIMEOUT = float(os.environ.get("ENDPOINT_UPSTREAM_TIMEOUT", "30"))
# Routing counters are summed in memory and written at most this often (seconds; 0: every decision).
ROUTING_COUNTER_FLUSH_SECONDS = float(os.environ.get("ROUTING_COUNTER_FLUSH_SECONDS", "2"))
# Blob downloads through the global endpoint go 307 to the chosen region's data endpoint (Region.data_endpoint,
# `run_data_endpoint`) with a signed URL valid DATA_URL_LIFETIME seconds. For a region without one:
# "relay" (ask the region; pass on its 307 when its storage redirects, else stream its bytes) or "redirect"
# (307 to the region's registry URL: only for registries that need no bearer, because OCI clients drop
# Authorization on a cross-origin redirect).
ENDPOINT_BLOB_DOWNLOADS = os.environ.get("ENDPOINT_BLOB_DOWNLOADS", "relay")
DATA_URL_LIFETIME = int(os.environ.get("DATA_URL_LIFETIME", "300"))  # seconds
# `run_local` starts a data endpoint per local region on this port + the region's index.
LOCAL_DATA_ENDPOINTS_BASE_PORT = int(os.environ.get("LOCAL_DATA_ENDPOINTS_BASE_PORT", "5201"))

# ---- Operations (issue 13): static files, HTTPS behind a proxy, logs with a request id ------------------------
# Hashed, compressed static names (collectstatic writes them and staticfiles.json; WhiteNoise serves them with
# far-future caching). Test runs never collect, so they keep plain names (the live server serves the sources).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
                    if os.environ.get("PYTEST_VERSION") and not os.environ.get("STATICFILES_MANIFEST")
                    else "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Production behind a TLS proxy (docs/deploy.md); each is off by default, so `make run` works on plain http.
# The proxy must set X-Forwarded-Proto (and strip a client's own): only then is a request known to be https.
if os.environ.get("DJANGO_BEHIND_TLS_PROXY", "0") == "1":
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = os.environ.get("DJANGO_SSL_REDIRECT", "0") == "1"
# Load balancers probe over plain http from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = os.environ.get("DJANGO_SECURE_COOKIES", "0") == "1"
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = os.environ.get("DJANGO_HSTS_INCLUDE_SUBDOMAINS", "0") == "1"
SECURE_HSTS_PRELOAD = os.environ.get("DJANGO_HSTS_PRELOAD", "0") == "1"
# e.g. "https://registry.example.com": the portal's public origin(s), for forms posted through the proxy.
CSRF_TRUSTED_ORIGINS = [origin for origin in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if origin]
# One format for the portal, the endpoints and the workers (replication/log_context.py): LOG_FORMAT=json gives one
# JSON object per line; every record carries the request id (and the job and region while a job runs).
LOGGING = log_context_logging_config(level=os.environ.get("LOG_LEVEL", "INFO"),
                                     format=os.environ.get("LOG_FORMAT", "text"))
# The worker keeps these LOGGING handlers instead of installing Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# First of all, so every later layer (and its errors) logs with the request's id.
MIDDLEWARE = ["replication.request_id.RequestIdMiddleware", *MIDDLEWARE]
# /readyz waits this long (seconds) for the broker to accept a connection.
READYZ_BROKER_TIMEOUT = float(os.environ.get("READYZ_BROKER_TIMEOUT", "2"))

# ---- Metrics (/metrics, replication/metrics.py and replication/prometheus.py) ----------------------------
# Who may scrape /metrics: a bearer token, and/or client networks (CIDRs; the address rule of
# replication/client_address.py, TRUSTED_PROXIES included). Neither set: loopback only.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_ALLOWED_NETWORKS = os.environ.get("METRICS_ALLOWED_NETWORKS", "")
# A worker on a host of its own serves its counters on this port (0: off); Prometheus scrapes it there.
WORKER_METRICS_PORT = int(os.environ.get("WORKER_METRICS_PORT", "0"))
WORKER_METRICS_ADDR = os.environ.get("WORKER_METRICS_ADDR", "127.0.0.1")
if os.environ.get("PYTEST_VERSION"):
    # The test run and the workers it starts add up their counters in one folder of their own (set before any
    # module imports prometheus_client, which reads it once; the workers inherit it).
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR",
                          str(private_dir_ensure(VAR_DIR / "test-metrics" / str(os.getpid()))))

# Retention (replication/services/retention.py): history older than this many days is pruned by a beat task every
# RETENTION_INTERVAL_SECONDS, except what is still read (latest push of each tag, unfinished work, ...); 0 keeps all.
RETENTION_EVENTS_DAYS = float(os.environ.get("RETENTION_EVENTS_DAYS", "30"))
RETENTION_JOBS_DAYS = float(os.environ.get("RETENTION_JOBS_DAYS", "30"))
RETENTION_DELIVERIES_DAYS = float(os.environ.get("RETENTION_DELIVERIES_DAYS", "30"))
RETENTION_RECONCILE_RUNS_DAYS = float(os.environ.get("RETENTION_RECONCILE_RUNS_DAYS", "7"))
RETENTION_INTERVAL_SECONDS = float(os.environ.get("RETENTION_INTERVAL_SECONDS", "3600"))
# Scrub (replication/services/scrub.py): every ready replica's storage is read back and hashed every
# SCRUB_INTERVAL_SECONDS (0: never by schedule), one at a time; beat looks for a due one every few minutes.
SCRUB_INTERVAL_SECONDS = float(os.environ.get("SCRUB_INTERVAL_SECONDS", str(7 * 24 * 3600)))
if SCRUB_INTERVAL_SECONDS > 0:
    CELERY_BEAT_SCHEDULE["scrub-replicas"] = {"task": "replication.tasks.scrub_replicas",
                                              "schedule": min(SCRUB_INTERVAL_SECONDS, 300.0),
                                              "options": {"queue": "portal"}}
CELERY_BEAT_SCHEDULE["prune-history"] = {"task": "replication.tasks.prune_history",
                                         "schedule": RETENTION_INTERVAL_SECONDS, "options": {"queue": "portal"}}
