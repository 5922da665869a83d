"""The fixed cast: agent, other_agent, lead, senior (manager), executive, anonymous, and integration keys."""

from __future__ import annotations

import os

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


def pytest_collection_modifyitems(items):
    """Transactional tests (real workers, live servers, races) flush the database when they end, and with it the
    rows the data migrations created: role groups, default escalation rules, the starter playbook. Give each of them
    serialized rollback, so every transactional test starts from the migrated data whatever ran before it."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        kwargs = dict(marker.kwargs) if marker else {}
        transactional = kwargs.get("transaction") or "live_server" in getattr(item, "fixturenames", ())
        if transactional and "serialized_rollback" not in kwargs:
            item.add_marker(pytest.mark.django_db(**{**kwargs, "transaction": True, "serialized_rollback": True}))
