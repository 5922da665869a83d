"""Sign-in lockout (django-axes): after too many failed sign-ins for a username from one address, even the right
password is refused for a cool-off period, on the staff sign-in form and on the admin's; behind a proxy the
client's address comes from the configured header."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone

from tests.e2e.conftest import FACTORY_PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture(autouse=True)
def _lockout(settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


def sign_in(client: Client, username: str, password: str, *, url: str = LOGIN, **meta):
    return client.post(url, {"username": username, "password": password}, **meta)


def fail(client: Client, username: str, times: int, *, url: str = LOGIN, **meta) -> None:
    for attempt in range(1, times + 1):
        response = sign_in(client, username, "not-the-password", url=url, **meta)
        # The form again ("did not match"); the failure that reaches the limit already answers with the lockout.
        assert response.status_code == (429 if attempt >= 3 else 200)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_login_refuses_the_right_password_after_too_many_failures(agent):
    client = Client()
    fail(client, agent.username, 3)

    response = sign_in(client, agent.username, FACTORY_PASSWORD)

    assert response.status_code == 429
    assert not signed_in(client)
    body = response.content.decode()
    assert "Too many failed sign-ins" in body and "15 minutes" in body and "administrator" in body
    assert 'name="password"' in body  # the form is still there for when the wait is over


def test_login_below_the_limit_still_signs_in_and_clears_the_count(agent):
    client = Client()
    fail(client, agent.username, 2)

    response = sign_in(client, agent.username, FACTORY_PASSWORD)

    assert response.status_code == 302 and signed_in(client)
    # Success starts the count again: two more typos do not lock the person out.
    other = Client()
    fail(other, agent.username, 2)
    assert sign_in(other, agent.username, FACTORY_PASSWORD).status_code == 302


def test_lockout_is_per_username_and_address(agent, lead):
    fail(Client(), agent.username, 3)

    assert sign_in(Client(), lead.username, FACTORY_PASSWORD).status_code == 302  # another person, same address
    elsewhere = Client(REMOTE_ADDR="198.51.100.9")
    assert sign_in(elsewhere, agent.username, FACTORY_PASSWORD).status_code == 302  # same person, elsewhere


def test_lockout_ends_after_the_cool_off(agent):
    fail(Client(), agent.username, 3)
    assert sign_in(Client(), agent.username, FACTORY_PASSWORD).status_code == 429

    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))

    client = Client()
    assert sign_in(client, agent.username, FACTORY_PASSWORD).status_code == 302 and signed_in(client)


def test_admin_login_is_locked_out_too(executive):
    executive.is_staff = True
    executive.save(update_fields=["is_staff"])
    client = Client()
    fail(client, executive.username, 3, url=ADMIN_LOGIN)

    response = sign_in(client, executive.username, FACTORY_PASSWORD, url=ADMIN_LOGIN)

    assert response.status_code == 429
    assert not signed_in(client)


def test_behind_a_proxy_failures_count_against_the_forwarded_client(settings, agent):
    settings.LOGIN_CLIENT_IP_META = "HTTP_X_FORWARDED_FOR"
    settings.LOGIN_TRUSTED_PROXIES = 1
    proxy = {"REMOTE_ADDR": "10.0.0.5"}
    # The client may put anything on the left; the proxy appends the address it saw, which is what counts.
    for spoof in ("1.1.1.1", "2.2.2.2", "3.3.3.3"):
        sign_in(Client(), agent.username, "wrong", HTTP_X_FORWARDED_FOR=f"{spoof}, 203.0.113.7", **proxy)

    locked = sign_in(Client(), agent.username, FACTORY_PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.7", **proxy)
    other_client = sign_in(Client(), agent.username, FACTORY_PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.8", **proxy)

    assert locked.status_code == 429
    assert other_client.status_code == 302  # the proxy's own address is not what gets locked
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.7"}


def test_without_the_header_setting_the_forwarded_header_is_ignored(settings, agent):
    settings.LOGIN_CLIENT_IP_META = ""
    fail(Client(), agent.username, 3, HTTP_X_FORWARDED_FOR="203.0.113.7")

    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}


def test_a_forwarded_value_that_is_not_an_address_counts_against_the_connection(settings, agent):
    # Stored as an address column (inet on PostgreSQL): garbage from a header must never reach it.
    settings.LOGIN_CLIENT_IP_META = "HTTP_X_FORWARDED_FOR"
    response = sign_in(Client(), agent.username, "wrong", HTTP_X_FORWARDED_FOR="'; drop table --", REMOTE_ADDR="10.0.0.5")

    assert response.status_code == 200
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"10.0.0.5"}


def test_force_login_of_the_test_client_still_works(client, agent):
    # The suite signs people in with force_login (no request address); the sign-in log must accept that.
    client.force_login(agent)

    assert client.get("/complaints/").status_code == 200
