"""The local fleet: one CNCF Distribution per configured region, on loopback, for development and demos."""
from django.conf import settings
from django.utils.crypto import salted_hmac

from .dataplane import DistributionProcess, token_auth
from .services.region_secrets import region_events_secret
from .services.regions import region_get, region_set_endpoint
from .token_service.keys import root_bundle_write

EVENTS_PATH = "/api/v1/events/"
TOKEN_PATH = "/oauth2/token"


def fleet_token_auth(*, portal_url: str | None = None) -> dict:
    """The auth.token section of every fleet registry; writes the current root bundle first.

    Registries read the bundle only when they start: after `rotate_signing_key --stage`, restart them.
    """
    portal_url = (portal_url or settings.PORTAL_BASE_URL).rstrip("/")
    return token_auth(realm=portal_url + TOKEN_PATH, service=settings.TOKEN_SERVICE_NAME,
                      issuer=settings.TOKEN_ISSUER, rootcertbundle=root_bundle_write())


def local_region_process(name: str, *, index: int, base_port: int | None = None, root=None,
                         portal_url: str | None = None) -> DistributionProcess:
    root = root or settings.LOCAL_REGIONS_DIR
    base_port = base_port or settings.LOCAL_REGIONS_BASE_PORT
    portal_url = (portal_url or settings.PORTAL_BASE_URL).rstrip("/")
    return DistributionProcess(
        name,
        port=base_port + index,
        storage_dir=root / name / "data",
        # Fixed per region so uploads survive a restart of the registry.
        http_secret=salted_hmac("replication.local_fleet.http_secret", name, algorithm="sha256").hexdigest(),
        notifications_url=portal_url + EVENTS_PATH,
        notifications_headers={
            "Authorization": [f"Bearer {region_events_secret(region=region_get(name=name))}"],
            "X-Region": [name],
        },
        log_path=root / name / "registry.log",
        auth=fleet_token_auth(portal_url=portal_url),
    )


class LocalFleet:
    """Starts the local regions' registries and records their endpoints; stops them all on exit."""

    def __init__(self, names=None, **process_options):
        self.names = list(names if names is not None else settings.LOCAL_REGIONS)
        self.processes = [local_region_process(n, index=i, **process_options) for i, n in enumerate(self.names)]

    def start(self) -> list[DistributionProcess]:
        for name in self.names:
            region_get(name=name)  # fail before starting anything if a name is wrong
        try:
            for process in self.processes:
                process.start()
                region_set_endpoint(name=process.name, endpoint=process.url, storage_root=process.storage_dir)
        except BaseException:
            self.stop()
            raise
        return self.processes

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
