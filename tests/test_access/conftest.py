"""Fixtures for access control: a registry with one of everything, its owner, and users with smaller roles."""
from dataclasses import dataclass

import pytest
from django.core import serializers
from django.apps import apps
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from replication import services
from replication.choices import RegistryRole
from replication.choices import WebhookDeliveryState
from replication.models import (Region, Registry, RegistryToken, ReplicationJob, RoleAssignment, ScrubRun, Webhook,
                                WebhookDelivery)
from replication.services import access
from replication.services.webhooks import webhook_create, webhook_ping


@dataclass
class Contoso:
    """contoso and the name of each thing in it that a route can address."""

    registry: Registry
    job: ReplicationJob
    webhook: Webhook
    assignment: RoleAssignment
    token: RegistryToken
    delivery: WebhookDelivery  # a finished ping, which "Redeliver" could send again
    scrub: ScrubRun | None = None  # a finished scrub of the eastus replica


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Token passwords hashed with a cheap hasher here (PBKDF2 costs a second per hash on a busy
    machine); the test of hashing at rest asks for the production hasher itself."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def make_user(django_user_model, username):
    return django_user_model.objects.create_user(username)  # API tokens and force_login: no password needed


def api_client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def owner(db, django_user_model):
    return make_user(django_user_model, "olivia")


@pytest.fixture
def stranger(db, django_user_model):
    """Signed in, no role on contoso."""
    return make_user(django_user_model, "steve")


@pytest.fixture
def puller(db, django_user_model):
    """The `pull` role on contoso, nothing more."""
    return make_user(django_user_model, "paula")


@pytest.fixture
def contributor(db, django_user_model):
    return make_user(django_user_model, "carl")


@pytest.fixture
def contoso(deployed_regions, owner, puller, contributor):
    """Premium, home westus, owned by olivia; a replica in eastus with its job, a webhook, a token."""
    registry = services.registry_create(name="contoso", sku="Premium", home_region="westus", owner=owner)
    _replica, job = services.replica_create(registry=registry, region="eastus")  # never committed: no task sent
    webhook = webhook_create(registry=registry, name="hookone", region="westus",
                             service_uri="https://hooks.example.com/acr", actions=["push"],
                             secret="s3cret-for-signing-0123456789")
    assignment = access.role_assignment_create(registry=registry, username=puller.username, role=RegistryRole.PULL)
    access.role_assignment_create(registry=registry, username=contributor.username, role=RegistryRole.CONTRIBUTOR)
    token, _password = access.registry_token_create(registry=registry, name="ci-robot",
                                                    scope=[{"repository": "apps/*", "actions": ["pull"]}])
    delivery = webhook_ping(webhook=webhook)  # never committed: no task sent
    WebhookDelivery.objects.filter(pk=delivery.pk).update(state=WebhookDeliveryState.FAILED)
    scrub = ScrubRun.objects.create(registry=registry, region=Region.objects.get(name="eastus"))
    return Contoso(registry=registry, job=job, webhook=webhook, assignment=assignment, token=token,
                   delivery=delivery, scrub=scrub)


def database_snapshot() -> dict[str, str]:
    """Every row of the product's tables and of the users, serialized: equal snapshots mean nothing changed."""
    models = [*apps.get_app_config("replication").get_models(), apps.get_model("auth", "User")]
    return {model._meta.label: serializers.serialize("json", model.objects.order_by("pk")) for model in models}
