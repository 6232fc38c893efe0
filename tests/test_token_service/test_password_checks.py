"""Token requests that arrive together with the same credentials hash the password once, not once each.

A burst of pushes with one set of credentials asks for its tokens all at once (skopeo: one per repository and
action), before any answer is remembered. A real hash costs ~0.3 s of CPU; here a fast one counts the calls and
holds the first until every thread is in, or a second has passed (a hold, never a measured time).
"""
import threading
import time

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher, make_password
from django.db import connection

from replication.exceptions import Unauthorized
from replication.models import Region, Registry, RegistryToken, Sku
from replication.services.token_service import token_principal_authenticate

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8


class CountingHasher(MD5PasswordHasher):
    """MD5 (fast) that counts its checks and holds them until THREADS have started or a second has passed."""

    algorithm = "counting_md5"
    checks = 0
    lock = threading.Lock()
    all_in = threading.Event()

    def verify(self, password, encoded):
        with CountingHasher.lock:
            CountingHasher.checks += 1
            if CountingHasher.checks == THREADS:
                CountingHasher.all_in.set()
        CountingHasher.all_in.wait(timeout=1)
        return super().verify(password, encoded)


@pytest.fixture
def counting_hasher(settings):
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    CountingHasher.checks = 0
    CountingHasher.all_in.clear()
    return CountingHasher


def ask_together(username: str, password: str) -> list:
    """token_principal_authenticate from THREADS threads at once: each one's principal, or the error it raised."""
    answers = [None] * THREADS
    start = threading.Barrier(THREADS)

    def ask(index):
        try:
            start.wait()
            answers[index] = token_principal_authenticate(username=username, password=password)
        except Exception as error:  # noqa: BLE001 - compared by the test
            answers[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=ask, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_a_users_concurrent_token_requests_hash_the_password_once(counting_hasher, django_user_model):
    django_user_model.objects.create_user("bob", password="pw")
    answers = ask_together("bob", "pw")
    assert [answer.subject for answer in answers] == ["bob"] * THREADS
    assert counting_hasher.checks == 1
    assert token_principal_authenticate(username="bob", password="pw").subject == "bob"  # remembered
    assert counting_hasher.checks == 1


def test_a_registry_tokens_concurrent_requests_hash_its_password_once(counting_hasher, catalog):
    registry = Registry.objects.create(name="contoso", sku=Sku.objects.get(name="Premium"),
                                       home_region=Region.objects.get(name="westus"))
    RegistryToken.objects.create(registry=registry, name="ci", password_hash=make_password("tokpw"), scope=[])
    answers = ask_together("contoso/ci", "tokpw")
    assert [answer.subject for answer in answers] == ["contoso/ci"] * THREADS
    assert counting_hasher.checks == 1


def test_a_wrong_password_asked_together_is_refused_to_each_and_not_remembered(counting_hasher, django_user_model):
    django_user_model.objects.create_user("bob", password="pw")
    answers = ask_together("bob", "nope")
    assert all(isinstance(answer, Unauthorized) for answer in answers), answers
    assert counting_hasher.checks == 1
    with pytest.raises(Unauthorized):
        token_principal_authenticate(username="bob", password="nope")
    assert counting_hasher.checks == 2  # a refusal is never remembered: the next attempt is checked again


def test_a_password_in_use_stays_remembered_and_one_left_unused_is_hashed_again(counting_hasher, django_user_model,
                                                                                 monkeypatch):
    """Remembered for VERIFIED_FOR_SECONDS since its last use (shortened here; real waits, with seconds of margin)."""
    monkeypatch.setattr("replication.services.token_service.VERIFIED_FOR_SECONDS", 4)
    monkeypatch.setattr("replication.services.token_service.VERIFIED_RENEWED_AFTER_SECONDS", 2)
    django_user_model.objects.create_user("bob", password="pw")
    CountingHasher.all_in.set()  # one thread here: nothing to hold
    token_principal_authenticate(username="bob", password="pw")
    assert counting_hasher.checks == 1
    for _ in range(2):  # 2.5 s apart: 5 s in all, past the 4 s that a first check alone is remembered for
        time.sleep(2.5)
        token_principal_authenticate(username="bob", password="pw")
    assert counting_hasher.checks == 1
    time.sleep(4.5)  # unused for longer than it is remembered
    token_principal_authenticate(username="bob", password="pw")
    assert counting_hasher.checks == 2
