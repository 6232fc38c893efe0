"""Failed sign-ins are counted per user name and per client address, in a cache every portal process
shares, and answered 429 with Retry-After (JSON for the API, a form error on the sign-in pages)."""
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from replication import throttling
from tests.conftest import ROOT, subprocess_database_url

TOKEN_URL = "/api/v1/auth/token/"


def token_request(*, username: str, password: str, address: str = "127.0.0.1"):
    return APIClient(REMOTE_ADDR=address).post(TOKEN_URL, {"username": username, "password": password})


def test_the_limits_are_settings_with_the_documented_defaults():
    assert (settings.SIGN_IN_FAILURES_PER_USERNAME, settings.SIGN_IN_FAILURES_PER_ADDRESS,
            settings.SIGN_IN_FAILURE_WINDOW_SECONDS) == (10, 20, 300)


def test_the_21st_wrong_password_from_one_address_is_a_429_with_retry_after(admin_user):
    # Different user names, so only the address's count (20) is reached.
    for attempt in range(20):
        response = token_request(username=f"user{attempt % 5}", password="wrong")
        assert response.status_code == 400, (attempt, response.content)
    refused = token_request(username="alice", password="wrong")
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= settings.SIGN_IN_FAILURE_WINDOW_SECONDS
    assert refused.json()["code"] == "throttled" and "Try again in" in refused.json()["detail"]
    assert token_request(username="alice", password="correct-horse", address="10.0.0.9").status_code == 200


def test_the_11th_wrong_password_for_one_user_name_is_refused_from_any_address(admin_user):
    for attempt in range(10):
        assert token_request(username="alice", password="wrong", address=f"10.0.0.{attempt}").status_code == 400
    refused = token_request(username="ALICE", password="wrong", address="10.0.1.1")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert token_request(username="bob", password="wrong", address="10.0.1.1").status_code == 400


def test_a_throttled_user_name_is_refused_even_with_the_right_password(admin_user):
    for attempt in range(10):
        token_request(username="alice", password="wrong", address=f"10.0.0.{attempt}")
    assert token_request(username="alice", password="correct-horse", address="10.0.2.1").status_code == 429


def test_a_successful_sign_in_resets_the_user_names_count(admin_user):
    for attempt in range(9):
        assert token_request(username="alice", password="wrong", address=f"10.0.0.{attempt}").status_code == 400
    assert token_request(username="alice", password="correct-horse", address="10.0.3.1").status_code == 200
    for attempt in range(9):
        assert token_request(username="alice", password="wrong", address=f"10.0.4.{attempt}").status_code == 400
    assert token_request(username="alice", password="correct-horse", address="10.0.5.1").status_code == 200


def test_failures_older_than_the_window_no_longer_count():
    window = settings.SIGN_IN_FAILURE_WINDOW_SECONDS
    now = 10_000.0
    old = [now - window - 1] * 10
    assert throttling._seconds_until_allowed(failure_times=old, limit=10, now=now) == 0
    recent = [now - window + 30] + [now - 1] * 9
    assert throttling._seconds_until_allowed(failure_times=recent, limit=10, now=now) == 30


def test_the_sign_in_page_shows_a_form_error_and_answers_429_when_throttled(admin_user):
    client = Client(REMOTE_ADDR="10.1.0.1")
    for _ in range(10):
        response = client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
        assert response.status_code == 200 and b"Please enter a correct username and password" in response.content
    refused = client.post("/accounts/login/", {"username": "alice", "password": "correct-horse"})
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert b"Too many failed sign-ins. Try again in" in refused.content
    assert b'role="alert"' in refused.content  # the form's error list, not an error page
    assert "_auth_user_id" not in client.session


def test_the_admin_sign_in_page_is_throttled_too(admin_user):
    client = Client(REMOTE_ADDR="10.1.0.2")
    for _ in range(10):
        client.post("/admin/login/", {"username": "alice", "password": "wrong"})
    refused = client.post("/admin/login/", {"username": "alice", "password": "correct-horse"})
    assert b"Too many failed sign-ins" in refused.content
    assert "_auth_user_id" not in client.session


def test_refuse_when_throttled_turns_a_plain_views_lockout_into_a_json_429(admin_user):
    @throttling.refuse_when_throttled
    def token_service_view(request):
        throttling.sign_in_attempt(request=request, username="alice", password="wrong")
        return None

    request = RequestFactory().post("/oauth2/token", REMOTE_ADDR="10.2.0.1")
    for _ in range(10):
        token_service_view(request)
    response = token_service_view(request)
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert response["Content-Type"] == "application/json"


@pytest.mark.django_db(transaction=True)
def test_failures_are_counted_in_a_cache_that_other_portal_processes_share(admin_user):
    for attempt in range(10):
        token_request(username="alice", password="wrong", address=f"10.3.0.{attempt}")
    # Another process (as runserver, a second web worker) sees the same count.
    script = ("import django; django.setup(); from replication.throttling import sign_in_wait_seconds; "
              "print(sign_in_wait_seconds(username='alice', address='10.9.9.9'))")
    env = {**os.environ, "DATABASE_URL": subprocess_database_url(),
           "DJANGO_SETTINGS_MODULE": "portal.settings"}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            check=True)
    assert int(result.stdout.strip().splitlines()[-1]) > 0

