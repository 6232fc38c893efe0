"""User-chosen outbound URLs through the API: webhooks and imports aimed at this machine or private networks are
refused with a 400 naming the address class, the allow-list opens them, and a name rebound to loopback after
validation fails the delivery or the import with the reason. Webhook changes never leak credentials."""
import pytest

from replication import outbound
from replication.choices import JobKind, JobState, WebhookDeliveryState
from replication.jobs.runner import job_run
from replication.models import ReplicationJob, Webhook, WebhookDelivery
from replication.services import webhooks
from tests.test_webhooks.conftest import SECRET
from tests.test_webhooks.receiver import WebhookReceiver

HOOKS = "/api/v1/registries/contoso/webhooks/"
IMPORT = "/api/v1/registries/contoso/import/"
PUBLIC = "93.184.215.14"
# (host as typed in a URL, the address it is, its class, a network that allows it)
REFUSED = [
    ("127.0.0.1", "127.0.0.1", "loopback", "127.0.0.0/8"),
    ("[::1]", "::1", "loopback", "::1/128"),
    ("169.254.169.254", "169.254.169.254", "link-local", "169.254.169.254/32"),
    ("10.0.0.1", "10.0.0.1", "private", "10.0.0.0/8"),
    ("0.0.0.0", "0.0.0.0", "unspecified", "0.0.0.0/32"),
    ("localhost", "127.0.0.1", "loopback", "127.0.0.1/32"),
]
IDS = [case[0] for case in REFUSED]


@pytest.fixture
def contoso(api_client, deployed_regions):
    response = api_client.post("/api/v1/registries/", {"name": "contoso", "sku": "Premium", "home_region": "westus"},
                               format="json")
    assert response.status_code == 201, response.content


@pytest.fixture
def dns(monkeypatch):
    """The names this test's DNS knows (DNS is outside this machine); others do not resolve."""
    table = {"localhost": ["127.0.0.1"]}

    def resolve(host, port):
        if host not in table:
            raise OSError(f"{host}: Name or service not known")
        return list(table[host])

    monkeypatch.setattr(outbound, "outbound_resolver", resolve)
    return table


def webhook_body(service_uri, **fields):
    return {"name": "hookone", "region": "westus", "service_uri": service_uri, "actions": ["push"], "secret": SECRET,
            **fields}


def import_body(registry_url):
    return {"source": {"registry_url": registry_url, "repository": "vendor/app", "reference": "1.0"}}


def refusal(host_text, address, klass):
    subject = f"{address} is" if host_text.strip("[]") == address else f"{host_text} resolves to {address},"
    article = "an" if klass[0] in "aeiou" else "a"
    return (f"{subject} {article} {klass} address; outbound requests to private networks are refused unless "
            "OUTBOUND_ALLOWED_NETWORKS allows them")


# ---- validation: 400 naming the class, nothing recorded --------------------------------------


@pytest.mark.parametrize("host, address, klass, network", REFUSED, ids=IDS)
def test_a_webhook_aimed_at_a_non_public_address_is_400_naming_its_class(api_client, contoso, dns, host, address,
                                                                         klass, network):
    response = api_client.post(HOOKS, webhook_body(f"http://{host}:8080/hook"), format="json")
    assert response.status_code == 400, response.content
    assert response.json()["field"] == "service_uri"
    assert refusal(host, address, klass) in response.json()["detail"]
    assert not Webhook.objects.exists()


@pytest.mark.parametrize("host, address, klass, network", REFUSED, ids=IDS)
def test_an_import_from_a_non_public_address_is_400_naming_its_class(api_client, contoso, dns, host, address, klass,
                                                                     network):
    response = api_client.post(IMPORT, import_body(f"http://{host}:5000"), format="json")
    assert response.status_code == 400, response.content
    assert response.json()["field"] == "source.registry_url"
    assert refusal(host, address, klass) in response.json()["detail"]
    assert not ReplicationJob.objects.filter(kind=JobKind.IMPORT).exists()


def test_a_webhook_uri_with_a_port_above_65535_is_400_not_a_crash(api_client, contoso, dns):
    dns["hooks.example.com"] = [PUBLIC]
    response = api_client.post(HOOKS, webhook_body("https://hooks.example.com:99999/in"), format="json")
    assert response.status_code == 400, response.content
    assert response.json()["field"] == "service_uri"
    assert "0-65535" in response.json()["detail"]
    assert not Webhook.objects.exists()


@pytest.mark.parametrize("registry_url", ["registry.example.com:99999", "https://[::1", "http://[::1]:70000"])
def test_an_import_source_with_a_bad_port_or_bracket_is_400_not_a_crash(api_client, contoso, dns, registry_url):
    dns["registry.example.com"] = [PUBLIC]
    response = api_client.post(IMPORT, import_body(registry_url), format="json")
    assert response.status_code == 400, response.content
    assert response.json()["field"] == "source.registry_url"
    assert not ReplicationJob.objects.filter(kind=JobKind.IMPORT).exists()


@pytest.mark.parametrize("host, address, klass, network", REFUSED, ids=IDS)
def test_the_allow_list_opens_webhooks_and_imports_to_its_networks(api_client, contoso, dns, settings, host, address,
                                                                   klass, network):
    settings.OUTBOUND_ALLOWED_NETWORKS = f"192.0.2.0/24, {network}"
    assert api_client.post(HOOKS, webhook_body(f"http://{host}:8080/hook"), format="json").status_code == 201
    assert api_client.post(IMPORT, import_body(f"http://{host}:5000"), format="json").status_code == 202


def test_a_patch_to_a_non_public_address_is_400_and_keeps_the_webhook(api_client, contoso, dns):
    assert api_client.post(HOOKS, webhook_body("https://hooks.example.com/h"), format="json").status_code == 201
    response = api_client.patch(HOOKS + "hookone/", {"service_uri": "http://169.254.169.254/latest/meta-data/",
                                                     "secret": SECRET}, format="json")
    assert response.status_code == 400 and "a link-local address" in response.json()["detail"]
    assert Webhook.objects.get().service_uri == "https://hooks.example.com/h"


# ---- connect time: a name rebound to loopback after validation ---------------------------------


def test_a_webhook_name_rebound_to_loopback_fails_the_delivery_with_the_reason(api_client, contoso, dns,
                                                                               django_capture_on_commit_callbacks):
    with WebhookReceiver() as receiver:
        dns["rebind.test"] = [PUBLIC]
        uri = receiver.url.replace("127.0.0.1", "rebind.test") + "/hook"
        assert api_client.post(HOOKS, webhook_body(uri, custom_headers={"Authorization": "Bearer t"}),
                               format="json").status_code == 201
        dns["rebind.test"] = ["127.0.0.1"]
        with django_capture_on_commit_callbacks(execute=False):
            delivery_id = api_client.post(HOOKS + "hookone/ping/").json()["id"]
        assert webhooks.webhook_delivery_attempt(delivery_id=delivery_id) is None, "a refusal is not retried"
        assert receiver.received() == []
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert delivery.state == WebhookDeliveryState.FAILED
    assert refusal("rebind.test", "127.0.0.1", "loopback") in delivery.error
    assert delivery.response_status is None and delivery.response_body == ""


def test_an_import_from_a_name_rebound_to_loopback_fails_the_job_with_the_reason(api_client, contoso, dns,
                                                                                 registry_factory):
    source = registry_factory("rebound")  # a real registry on 127.0.0.1: the import must never reach it
    dns["rebind.test"] = [PUBLIC]
    response = api_client.post(IMPORT, import_body(source.url.replace("127.0.0.1", "rebind.test")), format="json")
    assert response.status_code == 202, response.content
    dns["rebind.test"] = ["127.0.0.1"]
    assert job_run(job_id=response.json()["id"]).state == JobState.FAILED, "a refusal is not retried"
    job = ReplicationJob.objects.get(pk=response.json()["id"])
    assert refusal("rebind.test", "127.0.0.1", "loopback") in job.error
