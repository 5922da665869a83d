"""Search (`q=`) over subject, description, comments and customer, on both runtimes: full-text on PostgreSQL
(a trigger-maintained document, tickets/migrations/0008_scale.py), word-by-word substrings on SQLite."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.factories import ComplaintFactory, CustomerFactory
from tickets.actors import ActorRef
from tickets.models import Comment
from tickets.services import comment_add

pytestmark = pytest.mark.django_db

URL = "/api/v1/complaints/"


def found(client, text: str) -> list[str]:
    response = client.get(URL, {"q": text})
    assert response.status_code == 200, response.content
    return [row["reference"] for row in response.json()["results"]]


def test_search_finds_a_complaint_by_a_word_only_in_its_description(key_client):
    target = ComplaintFactory(subject="Late delivery", description="The parcel arrived soaked by the rainstorm.")
    ComplaintFactory(subject="Late delivery", description="Nobody called back.")

    assert found(key_client, "rainstorm") == [target.reference]


def test_search_finds_a_complaint_by_a_word_only_in_a_note(key_client, agent):
    target = ComplaintFactory(subject="Cold food", description="Dinner arrived cold.")
    other = ComplaintFactory(subject="Cold food", description="Dinner arrived cold.")
    comment_add(
        complaint=target, kind=Comment.Kind.NOTE, body="Offered a voucher for the marmalade", actor=ActorRef(user=agent)
    )
    comment_add(complaint=other, kind=Comment.Kind.NOTE, body="Called back", actor=ActorRef(user=agent))

    assert found(key_client, "marmalade") == [target.reference]


def test_search_needs_every_word_and_may_mix_fields(key_client):
    customer = CustomerFactory(name="Wilhelmina Quartermain", email="wq@example.com")
    target = ComplaintFactory(customer=customer, subject="Broken blender", description="Motor smokes.")
    ComplaintFactory(customer=customer, subject="Broken kettle", description="Lid cracked.")
    ComplaintFactory(subject="Broken blender", description="Motor smokes.")

    assert found(key_client, "quartermain blender") == [target.reference]
    assert found(key_client, "quartermain toaster") == []


def test_search_follows_a_customer_rename(key_client):
    customer = CustomerFactory(name="Ada Fairweather")
    target = ComplaintFactory(customer=customer)

    customer.name = "Ada Thunderclap"
    customer.save()

    assert found(key_client, "thunderclap") == [target.reference]
    assert found(key_client, "fairweather") == []


def test_search_follows_a_subject_edit_and_keeps_its_notes(key_client, agent):
    target = ComplaintFactory(subject="Dented bumper")
    comment_add(
        complaint=target,
        kind=Comment.Kind.NOTE,
        body="Garage quoted for the xylophone repair",
        actor=ActorRef(user=agent),
    )

    target.subject = "Scratched door"
    target.save()

    assert found(key_client, "scratched") == [target.reference]
    assert found(key_client, "dented") == []
    assert found(key_client, "xylophone") == [target.reference]


def test_search_forgets_a_deleted_comment(key_client, agent):
    target = ComplaintFactory()
    comment = comment_add(
        complaint=target, kind=Comment.Kind.NOTE, body="Mentioned a kaleidoscope", actor=ActorRef(user=agent)
    )

    Comment.objects.filter(pk=comment.pk).delete()

    assert found(key_client, "kaleidoscope") == []


def test_search_by_part_of_an_email_still_finds_the_customer(key_client):
    target = ComplaintFactory(customer=CustomerFactory(email="grace.kim@example.com"))
    ComplaintFactory()

    assert found(key_client, "grace.ki") == [target.reference]


def test_queue_search_box_finds_a_word_only_in_a_note(client, agent):
    target = ComplaintFactory(subject="Wrong size")
    other = ComplaintFactory(subject="Wrong size")
    comment_add(
        complaint=target, kind=Comment.Kind.NOTE, body="Customer mentioned the gazebo", actor=ActorRef(user=agent)
    )
    client.force_login(agent)

    page = client.get("/complaints/", {"q": "gazebo"}).content.decode()

    assert target.reference in page
    assert other.reference not in page


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the search document exists on PostgreSQL only")
def test_search_document_is_not_rebuilt_by_a_status_change(agent):
    # given a document with a comment appended (the trigger on comments), then a save() naming every column
    target = ComplaintFactory(subject="Squeaky hinge")
    comment_add(complaint=target, kind=Comment.Kind.NOTE, body="zeppelin", actor=ActorRef(user=agent))
    with connection.cursor() as cursor:
        cursor.execute("SELECT search_document::text FROM tickets_complaint WHERE id = %s", [target.pk])
        before = cursor.fetchone()[0]
        target.refresh_from_db()
        target.status = "in_progress"
        target.save()
        cursor.execute("SELECT search_document::text FROM tickets_complaint WHERE id = %s", [target.pk])
        after = cursor.fetchone()[0]
    assert "zeppelin" in before
    assert after == before


def test_queue_status_counts_stop_at_the_cap(client, agent, monkeypatch):
    # given three new complaints and a cap of two
    from tickets import selectors

    for _ in range(3):
        ComplaintFactory()
    monkeypatch.setattr(selectors, "STATUS_COUNT_CAP", 2)
    client.force_login(agent)

    # when / then: the count stops at the cap and the page says "at least"
    assert selectors.complaint_open_status_counts(cap=2)["new"] == 2
    page = client.get("/complaints/").content.decode()
    assert "New <strong>2+</strong>" in page
    assert "All open <strong>2+</strong>" in page
