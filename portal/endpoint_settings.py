"""Settings of the global endpoint process: the portal's, with the /v2/ URLconf and no session machinery."""
from .settings import *  # noqa: F401,F403

ROOT_URLCONF = "portal.endpoint_urls"
# Registries speak tokens, not sessions or CSRF; nothing here renders pages.
# The request id (X-Request-ID) too, so a pull can be followed in the logs as a portal request can.
MIDDLEWARE = ["replication.request_id.RequestIdMiddleware", "django.middleware.security.SecurityMiddleware"]
APPEND_SLASH = False
# Manifest PUTs and monolithic upload POSTs are read whole (Distribution caps manifests at 4 MiB).
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024 * 1024
# Every request reads routing state: keep each thread's connection instead of opening one per request.
DATABASES["default"]["CONN_MAX_AGE"] = 300  # noqa: F405
