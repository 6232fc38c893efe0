"""The demo registry the local product starts with: contoso, Premium, home West US, three replicas."""
import httpx
from django.contrib.auth import get_user_model

from .exceptions import Conflict
from .models import Registry
from .oci.client import RegistryClient
from .oci.corpus import demo_corpus, push_corpus
from .services import registry_create, replica_create
from .services.token_service import replication_credentials

DEMO_NAME = "contoso"
DEMO_HOME = "westus"
DEMO_REPLICAS = ["eastus", "canadacentral", "westeurope"]
DEMO_USER_AGENT = "georegistry-demo-seed/1.0"


def demo_registry_seed(*, owner_username: str = "admin") -> str:
    owner = get_user_model().objects.filter(username=owner_username).first()
    registry = Registry.objects.filter(name__iexact=DEMO_NAME).first()
    created = registry is None
    if created:
        registry = registry_create(name=DEMO_NAME, sku="Premium", home_region=DEMO_HOME, owner=owner)
    # Pushed like a user would (not with the replication User-Agent), so the pushes fan out and show in
    # the image matrix like any other; it logs in through the token flow like any client.
    username, password = replication_credentials(prefix=registry.repository_prefix, actions=("pull", "push"),
                                                 catalog=True)
    corpus = demo_corpus()
    with httpx.Client(headers={"User-Agent": DEMO_USER_AGENT}, timeout=60) as http:
        client = RegistryClient(registry.home_region.endpoint, username=username, password=password, http=http)
        # Seeded once: pushing again on every start would record new pushes and deliver webhooks for nothing.
        missing = demo_tags_missing(client, corpus.tags(registry.repository_prefix))
        if missing:
            push_corpus(client, corpus, repository_prefix=registry.repository_prefix)
    if created:
        for region in DEMO_REPLICAS:
            try:
                replica_create(registry=registry, region=region)
            except Conflict:
                pass  # that region is not running locally; it stays gray on the map
    images = "its images pushed" if missing else "its images already there"
    return (f"Demo registry '{registry.name}' (Premium, home {DEMO_HOME}) with images under "
            f"{registry.repository_prefix} ({images})")


def demo_tags_missing(client: RegistryClient, tags: dict[tuple[str, str], str]) -> list[tuple[str, str]]:
    """The demo's tags that the home region does not hold at the demo's digest."""
    missing = []
    for (repository, tag), digest in tags.items():
        descriptor = client.head_manifest(repository, tag)
        if descriptor is None or descriptor.digest != digest:
            missing.append((repository, tag))
    return missing
