"""The fixed cast: agent, other_agent, lead, senior (manager), executive, anonymous, and integration keys."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from rest_framework.test import APIClient

from cxrecovery.celery import app as celery_app
from tests.factories import ComplaintFactory, CustomerFactory, UserFactory
from tickets.apikeys import api_key_create
from tickets.models import ApiKey


def require_service(reason: str) -> None:
    """Skip when a service is missing; in CI's service pass (CX_REQUIRE_SERVICES=1) that is a failure."""
    if os.environ.get("CX_REQUIRE_SERVICES"):
        pytest.fail(f"CX_REQUIRE_SERVICES is set but: {reason}")
    pytest.skip(reason)


# The playbook's draw is seeded by the complaint and the clock hour (recovery.offers.selectors.suggestion_seed), so
# a test's suggestions would change with the hour the suite happens to run in. Every test runs its draws as if it
# were this hour; times relative to now keep their distance (an hour later is still another hour).
SUGGESTION_CLOCK = datetime(2026, 11, 30, 10, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _suggestion_hour(monkeypatch):
    from django.utils import timezone

    from recovery.offers import selectors

    original = selectors.suggestion_seed
    shift = SUGGESTION_CLOCK - timezone.now()
    monkeypatch.setattr(
        selectors, "suggestion_seed", lambda *, complaint_id, now: original(complaint_id=complaint_id, now=now + shift)
    )


@pytest.fixture(autouse=True)
def _eager_celery(request):
    """Tasks run in-process in every test except those that talk to the real worker."""
    if request.node.get_closest_marker("real_services"):
        yield
        return
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _plain_static(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def agent(db):
    return UserFactory(username="agent_alice", first_name="Alice", last_name="Agent", role="agent")


@pytest.fixture
def other_agent(db):
    return UserFactory(username="agent_oscar", first_name="Oscar", last_name="Other", role="agent")


@pytest.fixture
def lead(db):
    return UserFactory(username="lead_lena", first_name="Lena", last_name="Lead", role="lead")


@pytest.fixture
def senior(db):
    return UserFactory(username="manager_mia", first_name="Mia", last_name="Manager", role="manager")


@pytest.fixture
def executive(db):
    return UserFactory(username="exec_erin", first_name="Erin", last_name="Executive", role="executive")


@pytest.fixture
def outsider(db):
    """Signed in, but with no support role."""
    return UserFactory(username="outsider_olga")


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def agent_client(agent):
    client = APIClient()
    client.force_authenticate(agent)
    return client


def _key_client(scopes: list[str], user=None) -> APIClient:
    new = api_key_create(name="helpdesk", scopes=scopes, user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {new.secret}")
    client.api_key = new.api_key
    client.secret = new.secret
    return client


@pytest.fixture
def key_client(db):
    """An integration key with complaint and customer scopes."""
    return _key_client([ApiKey.Scope.COMPLAINTS_READ, ApiKey.Scope.COMPLAINTS_WRITE, ApiKey.Scope.CUSTOMERS_READ])


@pytest.fixture
def make_key_client(db):
    return _key_client


@pytest.fixture
def customer(db):
    return CustomerFactory()


@pytest.fixture
def complaint(db):
    return ComplaintFactory()


# The rows the data migrations create (role groups, default escalation rules, the starter playbook and the
# approval limits). Each loader is idempotent.
_REFERENCE_LOADERS = [
    ("tickets.migrations.0002_roles", "create_roles"),
    ("recovery.migrations.0002_escalation_defaults", "load_rules"),
    ("recovery.migrations.0003_starter_playbook", "load"),
    ("recovery.migrations.0009_unacknowledged_escalations", "add_rule"),
]


def reference_data_ensure() -> None:
    """Put the migrated reference rows back when a transactional test flushed them away."""
    from importlib import import_module

    from django.apps import apps
    from django.contrib.auth.models import Group

    if Group.objects.filter(name="agent").exists():
        return  # a flush removes every table at once; the role groups stand for all of them
    for module, function in _REFERENCE_LOADERS:
        getattr(import_module(module), function)(apps, None)


@pytest.fixture(autouse=True)
def _reference_data(request):
    """Every database test starts with the migrated reference data, whatever ran before it.

    A transactional test (real workers, live servers, races) ends with a flush of every table, and with it go the
    rows the data migrations created. Django re-creates content types and permissions after a flush; this puts
    back the rest, before the test and inside its transaction when it has one."""
    fixtures = request.fixturenames
    if request.node.get_closest_marker("django_db") is None and not {"db", "transactional_db", "live_server"} & set(fixtures):
        return
    request.getfixturevalue("db")
    reference_data_ensure()


@pytest.fixture
def receiver(settings):
    """A real local HTTP receiver for webhooks; private targets allowed so deliveries may reach 127.0.0.1."""
    from tests.notifications.receiver import start_receiver

    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    settings.DEBUG = False
    receiver, server = start_receiver()
    yield receiver
    server.shutdown()
    server.server_close()
