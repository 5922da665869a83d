"""What a single intake request costs, and the guarantees the cheaper path keeps: statements per complaint, the
API-key cache with immediate revocation (also across processes), the throttle in one Redis round trip."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from rest_framework.settings import api_settings
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from tests.conftest import require_service
from tests.factories import CustomerFactory
from tickets import apikeys
from tickets.apikeys import api_key_check, api_key_create, api_key_revoke
from tickets.models import ApiKey, Complaint, CustomerReference, TimelineEvent

URL = "/api/v1/complaints/"
ROOT = Path(__file__).resolve().parents[2]


def body(n: int, **customer) -> dict:
    return {
        "customer": customer or {"email": "known@example.com"},
        "cause": "pricing",
        "subject": f"Charged twice ({n})",
        "severity": 3,
        "source": "zendesk",
        "external_id": f"ZD-{n}",
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _redis_cache(settings) -> None:
    url = os.environ.get("CACHE_URL", "")
    if not url.startswith("redis"):
        require_service("needs Redis as the cache: set CACHE_URL=redis://...")
    settings.CACHES = {"default": {"BACKEND": "cxrecovery.cache.RedisCache", "LOCATION": url}}


# --- Statements per complaint ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("customer", [{"email": "known@example.com"}, {"external_id": "cust-1"}], ids=["by email", "by id"])
def test_intake_new_complaint_from_known_customer_takes_at_most_six_statements(
    key_client, django_assert_max_num_queries, django_capture_on_commit_callbacks, customer
):
    # given: a customer the system knows, and a key that has been used (its last-use time is fresh)
    known = CustomerFactory(email="known@example.com")
    CustomerReference.objects.create(customer=known, source="zendesk", external_id="cust-1")
    assert key_client.post(URL, body(0, **customer), format="json").status_code == 201

    # when: a new complaint from them (the test's own transaction adds a SAVEPOINT and a RELEASE, counted too)
    with django_assert_max_num_queries(6) as captured, django_capture_on_commit_callbacks() as callbacks:
        response = key_client.post(URL, body(1, **customer), format="json")

    # then: stored, with its timeline event in the same transaction, the assessment queued on commit
    assert response.status_code == 201, response.content
    complaint = Complaint.objects.get(external_id="ZD-1")
    assert complaint.customer == known and response.json()["reference"] == complaint.reference
    assert TimelineEvent.objects.filter(complaint=complaint, kind=TimelineEvent.Kind.LOGGED).count() == 1
    assert callbacks, "the assessment is queued on commit"
    sql = " ".join(q["sql"] for q in captured.captured_queries).upper()
    assert "FOR UPDATE" not in sql  # no redelivery pre-check before the INSERT
    if connection.vendor == "postgresql":
        # the customer's SELECT, then the complaint with its event in one statement (and the test's SAVEPOINT, RELEASE)
        assert len(captured.captured_queries) == 4, [q["sql"][:80] for q in captured.captured_queries]


@pytest.mark.django_db
def test_intake_without_an_external_id_takes_the_same_one_insert(key_client, django_assert_max_num_queries):
    # given: a known customer, and a key that has been used
    known = CustomerFactory(email="known@example.com")
    assert key_client.post(URL, body(0), format="json").status_code == 201
    plain = {k: v for k, v in body(1).items() if k not in {"source", "external_id"}}

    # when: a complaint typed in by a script that keeps no ids of its own
    with django_assert_max_num_queries(7) as captured:
        response = key_client.post(URL, plain, format="json")

    # then: stored with its event
    assert response.status_code == 201, response.content
    complaint = Complaint.objects.get(external_id__isnull=True)
    assert complaint.customer == known and complaint.external_id is None
    assert TimelineEvent.objects.filter(complaint=complaint, kind=TimelineEvent.Kind.LOGGED).count() == 1
    if connection.vendor == "postgresql":
        intake = [q["sql"][:80] for q in captured.captured_queries if "tickets_apikey" not in q["sql"]]
        assert len(intake) == 4, intake  # SAVEPOINT, the customer's SELECT, the complaint with its event, RELEASE


@pytest.mark.django_db
def test_intake_new_customer_with_a_reference_goes_in_with_one_statement_on_postgresql(
    key_client, django_assert_max_num_queries
):
    # given: a key that has been used
    assert key_client.post(URL, body(0), format="json").status_code == 201

    # when: a complaint from a customer nobody knows yet, by email and their id in the helpdesk
    with django_assert_max_num_queries(8) as captured:
        response = key_client.post(URL, body(1, email="new@example.com", external_id="cust-new"), format="json")

    # then: the customer, their reference, the complaint and its event are stored
    assert response.status_code == 201, response.content
    reference = CustomerReference.objects.select_related("customer").get(source="zendesk", external_id="cust-new")
    assert reference.customer.email == "new@example.com"
    assert Complaint.objects.get(external_id="ZD-1").customer == reference.customer
    if connection.vendor == "postgresql":
        # the lookup, the customer with their reference, the complaint with its event (and SAVEPOINT, RELEASE);
        # the key's SELECT too where no shared cache keeps it (CACHE_URL unset)
        intake = [q["sql"][:80] for q in captured.captured_queries if "tickets_apikey" not in q["sql"]]
        assert len(intake) == 5, intake


@pytest.mark.django_db
def test_a_reference_another_request_attached_first_wins_over_the_new_customer(key_client, monkeypatch):
    # given: the customer's id in the helpdesk already belongs to someone, but this request's lookup missed it
    # (a concurrent request stored it just after the lookup)
    from tickets.services import customers

    theirs = CustomerFactory(email="first@example.com")
    CustomerReference.objects.create(customer=theirs, source="zendesk", external_id="cust-race")
    monkeypatch.setattr(customers, "_customer_lookup", lambda *args: (None, None))

    # when
    response = key_client.post(URL, body(1, email="second@example.com", external_id="cust-race"), format="json")

    # then: the complaint goes to the customer the reference names; the reference is not doubled or moved
    assert response.status_code == 201, response.content
    assert Complaint.objects.get(external_id="ZD-1").customer == theirs
    assert list(CustomerReference.objects.filter(external_id="cust-race").values_list("customer", flat=True)) == [theirs.pk]


@pytest.mark.django_db
def test_intake_redelivery_after_the_conflict_still_answers_200_without_a_duplicate(key_client):
    first = key_client.post(URL, body(5), format="json")
    again = key_client.post(URL, {**body(5), "severity": 5}, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["reference"] == first.json()["reference"] and again.json()["severity"] == 5
    assert Complaint.objects.count() == 1
    assert list(TimelineEvent.objects.order_by("id").values_list("kind", flat=True)) == ["logged", "updated"]


@pytest.mark.django_db
def test_intake_refuses_a_complaint_the_database_refuses_even_when_or_ignore_would_skip_it(key_client):
    # SQLite's INSERT OR IGNORE also skips a row failing a CHECK; the service must not take that for a redelivery.
    from tickets import services
    from tickets.actors import ActorRef

    data = services.ComplaintInput(
        customer=services.CustomerInput(email="x@example.com"),
        fields={"cause": "pricing", "subject": "s", "severity": 9},
        source="zendesk",
        external_id="ZD-CHECK",
    )
    with pytest.raises(Exception):  # noqa: B017, PT011 - IntegrityError, whatever the backend calls it
        services.complaint_log(data=data, actor=ActorRef.system())
    assert not Complaint.objects.filter(external_id="ZD-CHECK").exists()


# --- The API-key cache ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_key_is_cached_only_in_a_cache_every_process_shares(key_client, settings):
    settings.API_KEY_CACHE_SECONDS = None  # decide from the backend
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "t"}}
    assert apikeys.cache_seconds() == 0  # per-process memory: a revocation elsewhere would not reach it

    settings.CACHES = {"default": {"BACKEND": "cxrecovery.cache.RedisCache", "LOCATION": "redis://x"}}
    assert apikeys.cache_seconds() == 30


@pytest.mark.django_db
def test_api_key_check_is_served_from_the_cache_and_revocation_is_immediate(settings, django_assert_num_queries):
    settings.API_KEY_CACHE_SECONDS = 30
    new = api_key_create(name="tool", scopes=["complaints:read"])
    assert api_key_check(new.secret).pk == new.api_key.pk  # fills the cache (and records the use)

    with django_assert_num_queries(0):
        assert api_key_check(new.secret).pk == new.api_key.pk
        assert api_key_check(new.secret[:-1] + "x") is None  # the hash is still compared

    api_key_revoke(api_key=ApiKey.objects.get(pk=new.api_key.pk))

    assert api_key_check(new.secret) is None
    assert api_key_check(new.secret) is None  # and stays refused


@pytest.mark.django_db
def test_api_key_read_before_a_revocation_cannot_be_cached_after_it(settings):
    # given: a request read the active row from the database, then the key was revoked before it cached it
    settings.API_KEY_CACHE_SECONDS = 30
    new = api_key_create(name="tool", scopes=["complaints:read"])
    stale = ApiKey.objects.get(pk=new.api_key.pk)
    api_key_revoke(api_key=ApiKey.objects.get(pk=new.api_key.pk))

    # when: the slow request caches what it read
    apikeys._remember(stale, 30)

    # then: the revocation's tombstone stays; the key is refused
    assert api_key_check(new.secret) is None


@pytest.mark.django_db
def test_api_key_scope_change_takes_effect_at_once(settings):
    settings.API_KEY_CACHE_SECONDS = 30
    new = api_key_create(name="tool", scopes=["complaints:read", "complaints:write"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {new.secret}")
    assert client.post(URL, body(1), format="json").status_code == 201

    key = ApiKey.objects.get(pk=new.api_key.pk)
    key.scopes = ["complaints:read"]
    key.save()

    assert client.post(URL, body(2), format="json").status_code == 403


@pytest.mark.django_db
def test_api_key_acting_for_a_person_is_never_cached(settings, agent):
    settings.API_KEY_CACHE_SECONDS = 30
    new = api_key_create(name="person", scopes=["complaints:read"], user=agent)
    api_key_check(new.secret)

    assert apikeys._cached(new.api_key.prefix) is None


@pytest.mark.django_db
def test_intake_works_from_the_database_when_the_key_cache_is_down(key_client, settings):
    settings.API_KEY_CACHE_SECONDS = 30
    settings.CACHES = {
        "default": {
            "BACKEND": "cxrecovery.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{_free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }

    assert key_client.post(URL, body(1), format="json").status_code == 201
    api_key_revoke(api_key=key_client.api_key)  # a revocation with the cache down still commits
    assert key_client.post(URL, body(2), format="json").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_api_key_revoked_in_another_process_is_refused_at_once(settings):
    # given: PostgreSQL and Redis shared by this process and another one
    if connection.vendor != "postgresql":
        require_service("needs PostgreSQL (a database two processes share): set DATABASE_URL=postgres://...")
    _redis_cache(settings)
    settings.API_KEY_CACHE_SECONDS = 30
    new = api_key_create(name="tool", scopes=["complaints:read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {new.secret}")
    assert client.get(URL).status_code == 200
    assert apikeys._cached(new.api_key.prefix) is not None  # this process now answers from the cache

    # when: another process revokes it
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "CACHE_URL": os.environ["CACHE_URL"],
        "DJANGO_SETTINGS_MODULE": "cxrecovery.settings",
    }
    script = (
        "import django; django.setup()\n"
        "from tickets.apikeys import api_key_revoke\nfrom tickets.models import ApiKey\n"
        f"api_key_revoke(api_key=ApiKey.objects.get(pk={new.api_key.pk}))\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, timeout=120)

    # then: refused here on the very next request
    assert client.get(URL).status_code == 401


# --- The throttle: one Redis round trip -----------------------------------------------------------------------


@pytest.mark.django_db
def test_throttle_on_redis_takes_one_round_trip_and_still_refuses_over_budget(key_client, settings, monkeypatch):
    import redis

    _redis_cache(settings)
    settings.API_KEY_CACHE_SECONDS = 0  # count the throttle's round trips only
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**api_settings.DEFAULT_THROTTLE_RATES, "principal": "2/minute"})
    trips: list[str] = []
    original_command, original_pipeline = redis.Redis.execute_command, redis.client.Pipeline.execute
    monkeypatch.setattr(redis.Redis, "execute_command", lambda self, *a, **k: (trips.append(a[0]), original_command(self, *a, **k))[1])
    monkeypatch.setattr(redis.client.Pipeline, "execute", lambda self, *a, **k: (trips.append("pipeline"), original_pipeline(self, *a, **k))[1])

    codes = []
    for _ in range(3):
        trips.clear()
        response = key_client.get(URL)
        codes.append(response.status_code)
        assert trips == ["pipeline"], trips

    assert codes == [200, 200, 429]
    assert 0 < int(response["Retry-After"]) <= 60


# --- Validation ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["Broken \ud83d text", "\udfff"])
def test_the_faster_surrogate_check_refuses_what_drf_refuses_with_its_words(text):
    # The JSON parser refuses lone surrogates first; the serializers keep DRF's own check (by a regular expression)
    # for data that did not come through it.
    from rest_framework.validators import ProhibitSurrogateCharactersValidator

    from tickets.api.serializers import ComplaintCreateInput

    serializer = ComplaintCreateInput(data={"customer": {"email": "a@example.com"}, "cause": "pricing", "severity": 3, "subject": text})

    assert not serializer.is_valid()
    with pytest.raises(Exception) as drf:  # noqa: PT011 - DRF's ValidationError, compared by its words
        ProhibitSurrogateCharactersValidator()(text)
    assert serializer.errors["subject"] == drf.value.detail


def test_text_with_surrogate_pairs_decoded_is_fine():
    from tickets.api.serializers import ComplaintCreateInput

    serializer = ComplaintCreateInput(data={"customer": {"email": "a@example.com"}, "cause": "pricing", "severity": 3, "subject": "Fine 😀"})

    assert serializer.is_valid(), serializer.errors
    from rest_framework.validators import ProhibitSurrogateCharactersValidator

    from tickets.api.strict import NoSurrogates

    checks = [type(v) for v in serializer.fields["subject"].validators]
    assert NoSurrogates in checks and ProhibitSurrogateCharactersValidator not in checks
