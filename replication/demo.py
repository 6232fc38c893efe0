"""The demo registry the local product starts with: contoso, Premium, home West US, three replicas."""
import httpx
from django.contrib.auth import get_user_model

from .exceptions import Conflict
from .models import Registry
from .oci.client import RegistryClient
from .oci.corpus import demo_corpus, push_corpus
from .services import registry_create, replica_create
from .services.token_service import Principal, scopes_parse, token_access_grant
from .token_service.tokens import registry_token_sign

DEMO_NAME = "contoso"
DEMO_HOME = "westus"
DEMO_REPLICAS = ["eastus", "canadacentral", "westeurope"]
DEMO_USER_AGENT = "georegistry-demo-seed/1.0"
DEMO_PUSHER = "demo-seed"  # who the regions name as the pusher when the demo registry has no owner


def demo_registry_seed(*, owner_username: str = "admin") -> str:
    owner = get_user_model().objects.filter(username=owner_username).first()
    registry = Registry.objects.filter(name__iexact=DEMO_NAME).first()
    created = registry is None
    if created:
        registry = registry_create(name=DEMO_NAME, sku="Premium", home_region=DEMO_HOME, owner=owner)
    # Pushed as its owner (never as the replication engine), so the pushes fan out and show in the image matrix
    # like any other.
    corpus = demo_corpus()
    tokens = _owner_tokens(registry, owner)
    with httpx.Client(headers={"User-Agent": DEMO_USER_AGENT}, timeout=60) as http:
        client = RegistryClient(registry.home_region.endpoint, http=http, token_issuer=tokens)
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


def _owner_tokens(registry: Registry, owner):
    """The token flow's answers for the registry's owner, signed here (the owner's password is not known here): what
    the token service grants the owner (token_access_grant). With no owner, pull and push of the registry's own
    repositories for DEMO_PUSHER. The region names that subject as the pusher in its events."""
    if owner is not None:
        principal = Principal(subject=owner.get_username(), user=owner)
    else:
        principal = Principal(subject=DEMO_PUSHER, engine_grant={"p": [registry.repository_prefix.lower()], "r": [],
                                                                   "a": ["pull", "push"], "c": False})

    def issue(challenge: dict[str, str]) -> tuple[str, int]:
        access = token_access_grant(principal=principal, scopes=scopes_parse(challenge.get("scope", "").split()))
        issued = registry_token_sign(subject=principal.subject, access=access)
        return issued.token, issued.expires_in

    return issue


def demo_tags_missing(client: RegistryClient, tags: dict[tuple[str, str], str]) -> list[tuple[str, str]]:
    """The demo's tags that the home region does not hold at the demo's digest."""
    missing = []
    for (repository, tag), digest in tags.items():
        descriptor = client.head_manifest(repository, tag)
        if descriptor is None or descriptor.digest != digest:
            missing.append((repository, tag))
    return missing
