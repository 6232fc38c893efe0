"""The demo registry the local product starts with: contoso, Premium, home West US, three replicas."""
from django.contrib.auth import get_user_model

from .exceptions import Conflict
from .models import Registry
from .oci.corpus import demo_corpus, push_corpus
from .services import registry_create, replica_create
from .services.regions import region_client

DEMO_NAME = "contoso"
DEMO_HOME = "westus"
DEMO_REPLICAS = ["eastus", "canadacentral", "westeurope"]


def demo_registry_seed(*, owner_username: str = "admin") -> str:
    owner = get_user_model().objects.filter(username=owner_username).first()
    registry = Registry.objects.filter(name__iexact=DEMO_NAME).first()
    created = registry is None
    if created:
        registry = registry_create(name=DEMO_NAME, sku="Premium", home_region=DEMO_HOME, owner=owner)
    client = region_client(registry.home_region)
    try:
        push_corpus(client, demo_corpus(), repository_prefix=registry.repository_prefix)
    finally:
        client.close()
    if created:
        for region in DEMO_REPLICAS:
            try:
                replica_create(registry=registry, region=region)
            except Conflict:
                pass  # that region is not running locally; it stays gray on the map
    return f"Demo registry '{registry.name}' (Premium, home {DEMO_HOME}) with images under {registry.repository_prefix}"
