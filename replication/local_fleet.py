"""The local fleet: one CNCF Distribution per configured region, on loopback, for development and demos."""
from django.conf import settings
from django.utils.crypto import salted_hmac

from .dataplane import DistributionProcess
from .services.regions import region_events_token, region_get, region_set_endpoint

EVENTS_PATH = "/api/v1/events/"


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
            "Authorization": [f"Bearer {region_events_token(name)}"],
            "X-Region": [name],
        },
        log_path=root / name / "registry.log",
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
                region_set_endpoint(name=process.name, endpoint=process.url)
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
