"""The fleet's real Distribution registries trust only tokens from the portal: real skopeo, real podman,
the session's portal as the realm. Transactional, so the realm's thread sees the users and tokens."""
import subprocess
import uuid

import httpx
import pytest
from django.contrib.auth.hashers import make_password

from replication import services
from replication.choices import RegistryRole
from replication.models import RegistryToken, RoleAssignment
from replication.oci.client import RegistryClient, RegistryError
from replication.oci.corpus import build_corpus, push_corpus
from tests.conftest import fleet_client

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def westus(deployed_regions):
    return deployed_regions["westus"]


def new_registry(name_stem="tok", sku="Premium"):
    return services.registry_create(name=f"{name_stem}{uuid.uuid4().hex[:8]}", sku=sku, home_region="westus")


@pytest.fixture
def seeded(westus):
    """A registry with one image in each of apps/app00, apps/app01 and app00 in westus: (registry, {repository: tag})."""
    registry = new_registry()
    prefix = registry.repository_prefix
    small = {"tags_per_repo": 1, "multi_platform_repositories": 0, "base_layer_size": 4096,
             "unique_layer_size": 4096}
    with fleet_client(westus.endpoint, prefix=prefix) as client:
        pushed = push_corpus(client, build_corpus(31, repositories=2, **small), prefix + "apps/")
        pushed |= push_corpus(client, build_corpus(32, repositories=1, **small), prefix)
    return registry, {repository: tag for repository, tag in pushed}


def host(region) -> str:
    return region.endpoint.removeprefix("http://")


def skopeo(*argv, creds=None, dest_creds=None) -> subprocess.CompletedProcess:
    auth = (["--creds", creds] if creds else []) if argv[0] != "copy" else (
        (["--src-creds", creds] if creds else []) + (["--dest-creds", dest_creds] if dest_creds else []))
    tls = ["--tls-verify=false"] if argv[0] != "copy" else ["--src-tls-verify=false", "--dest-tls-verify=false"]
    return subprocess.run(["skopeo", argv[0], *tls, *auth, *argv[1:]], capture_output=True, text=True, timeout=120)


def user(django_user_model, registry, role, name=None, **extra):
    account = django_user_model.objects.create_user(name or f"u{uuid.uuid4().hex[:8]}", password="pw", **extra)
    if role:
        RoleAssignment.objects.create(registry=registry, user=account, role=role)
    return f"{account.username}:pw"


def registry_token(registry, scope, name="ci"):
    RegistryToken.objects.create(registry=registry, name=name, password_hash=make_password("tokpw"), scope=scope)
    return f"{registry.name}/{name}", "tokpw"


def refused(call) -> int:
    with pytest.raises(RegistryError) as caught:
        call()
    return caught.value.status_code


def test_without_a_token_pull_push_delete_and_catalog_are_refused(westus, seeded):
    registry, tags = seeded
    repository = next(iter(tags))
    base = f"{westus.endpoint}/v2"
    assert httpx.get(f"{base}/{repository}/manifests/{tags[repository]}").status_code == 401
    assert httpx.post(f"{base}/{repository}/blobs/uploads/").status_code == 401
    assert httpx.delete(f"{base}/{repository}/manifests/sha256:{'0' * 64}").status_code == 401
    assert httpx.get(f"{base}/_catalog").status_code == 401
    challenge = httpx.get(f"{base}/").headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer realm=") and "/oauth2/token" in challenge
    # Anonymous through the token flow: the realm answers, but grants nothing on a private registry.
    with RegistryClient(westus.endpoint) as anonymous:
        assert refused(lambda: anonymous.get_manifest(repository, tags[repository])) == 401
        assert refused(lambda: list(anonymous.catalog())) == 401
    assert skopeo("inspect", "--raw", f"docker://{host(westus)}/{repository}:{tags[repository]}").returncode != 0


def test_anonymous_pull_works_where_the_registry_allows_it(westus, seeded):
    registry, tags = seeded
    registry.anonymous_pull = True
    registry.save(update_fields=["anonymous_pull"])
    repository = next(iter(tags))
    assert skopeo("inspect", "--raw", f"docker://{host(westus)}/{repository}:{tags[repository]}").returncode == 0
    with RegistryClient(westus.endpoint) as anonymous:
        assert refused(lambda: anonymous.push_blob(repository, b"nope")) == 401


def test_a_user_with_pull_pulls_and_cannot_push(westus, seeded, django_user_model):
    registry, tags = seeded
    creds = user(django_user_model, registry, RegistryRole.PULL)
    source = f"docker://{host(westus)}/{registry.name}/app00:{tags[registry.name + '/app00']}"
    assert skopeo("inspect", "--raw", source, creds=creds).returncode == 0
    pushed = skopeo("copy", source, f"docker://{host(westus)}/{registry.name}/app00:copy", creds=creds,
                    dest_creds=creds)
    assert pushed.returncode != 0, "a pull-only user pushed"


def test_a_user_with_push_pushes_and_cannot_delete(westus, seeded, django_user_model):
    registry, tags = seeded
    creds = user(django_user_model, registry, RegistryRole.PUSH)
    source = f"docker://{host(westus)}/{registry.name}/app00:{tags[registry.name + '/app00']}"
    target = f"docker://{host(westus)}/{registry.name}/pushed:1.0"
    assert skopeo("copy", source, target, creds=creds, dest_creds=creds).returncode == 0, "push refused"
    assert skopeo("inspect", "--raw", target, creds=creds).returncode == 0
    assert skopeo("delete", target, creds=creds).returncode != 0
    owner = user(django_user_model, registry, RegistryRole.OWNER)
    assert skopeo("delete", target, creds=owner).returncode == 0  # the same request with delete goes through


def test_a_registry_token_scoped_to_apps_reaches_only_those_repositories(westus, seeded):
    registry, tags = seeded
    username, password = registry_token(registry, [{"repository": "apps/*", "actions": ["pull"]}])
    with RegistryClient(westus.endpoint, username=username, password=password) as client:
        for name in ("apps/app00", "apps/app01"):
            repository = f"{registry.name}/{name}"
            assert client.get_manifest(repository, tags[repository]).body
        assert refused(lambda: client.get_manifest(f"{registry.name}/app00", tags[f"{registry.name}/app00"])) == 401
        assert refused(lambda: client.push_blob(f"{registry.name}/apps/app00", b"no push")) == 401


def test_a_token_of_one_registry_is_refused_on_another_registrys_repositories(westus, seeded):
    registry, tags = seeded
    other = new_registry("other")
    username, password = registry_token(other, [{"repository": "*", "actions": ["pull", "push", "delete"]}])
    with RegistryClient(westus.endpoint, username=username, password=password) as client:
        assert refused(lambda: client.get_manifest(f"{registry.name}/app00", tags[f"{registry.name}/app00"])) == 401
        client.push_blob(f"{other.name}/own", b"its own registry works")


def test_a_deleted_registry_token_gets_no_new_token(westus, seeded, portal_server):
    registry, tags = seeded
    username, password = registry_token(registry, [{"repository": "*", "actions": ["pull"]}])
    realm = portal_server.url + "/oauth2/token"
    scope = {"service": "georegistry", "scope": f"repository:{registry.name}/app00:pull"}
    assert httpx.get(realm, params=scope, auth=(username, password)).status_code == 200
    RegistryToken.objects.filter(registry=registry).delete()
    response = httpx.get(realm, params=scope, auth=(username, password))
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Basic")
    with RegistryClient(westus.endpoint, username=username, password=password) as client:
        assert refused(lambda: client.get_manifest(f"{registry.name}/app00", tags[f"{registry.name}/app00"])) == 401


def test_the_catalog_is_refused_to_a_non_staff_user_and_given_to_staff(westus, seeded, django_user_model):
    registry, _ = seeded
    owner = user(django_user_model, registry, RegistryRole.OWNER).split(":")[0]
    with RegistryClient(westus.endpoint, username=owner, password="pw") as client:
        assert refused(lambda: list(client.catalog())) == 401
    staff = user(django_user_model, registry, None, is_staff=True).split(":")[0]
    with RegistryClient(westus.endpoint, username=staff, password="pw") as client:
        assert f"{registry.name}/app00" in list(client.catalog())


def test_podman_logs_in_and_pulls_with_a_registry_token(westus, seeded, podman):
    registry, tags = seeded
    username, password = registry_token(registry, [{"repository": "app00", "actions": ["pull"]}])
    login = podman("login", "--tls-verify=false", "-u", username, "-p", password, host(westus))
    assert login.returncode == 0, login.stderr
    assert podman("login", "--tls-verify=false", "-u", username, "-p", "wrong", host(westus)).returncode != 0
    image = f"{host(westus)}/{registry.name}/app00:{tags[registry.name + '/app00']}"
    pulled = podman("pull", "--tls-verify=false", image)
    assert pulled.returncode == 0, pulled.stderr
    assert podman("image", "exists", image).returncode == 0
