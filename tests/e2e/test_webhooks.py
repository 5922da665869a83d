"""Webhooks in a real browser: a manager subscribes a local receiver from the header's Webhooks page, copies the
secret shown once, a complaint is logged, and the delivery shows in the log and verifies with that secret."""

from __future__ import annotations

import pytest
from standardwebhooks import Webhook

from tests.e2e.conftest import sign_in
from tickets import services as ticket_services
from tickets.actors import ActorRef

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_manager_subscribes_and_sees_a_signed_delivery(desktop_page, receiver, senior, agent):
    from playwright.sync_api import expect

    page = desktop_page
    sign_in(page, senior.username)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Webhooks").click()
    page.wait_for_url("**/webhooks/")
    page.get_by_label("URL").fill(receiver.url)
    page.get_by_label("Description").fill("Our CRM")
    page.get_by_role("checkbox", name="complaint.logged").check()
    page.get_by_role("button", name="Add endpoint").click()
    secret = page.locator("#webhook-secret").inner_text()
    assert secret.startswith("whsec_")

    data = ticket_services.ComplaintInput(
        customer=ticket_services.CustomerInput(email="hannah@example.com"),
        fields={"cause": "product_quality", "severity": 3, "subject": "Gift card never arrived"},
    )
    complaint = ticket_services.complaint_log(data=data, actor=ActorRef(user=agent)).complaint

    page.reload()
    expect(page.locator("#webhook-secret")).to_have_count(0)  # shown once
    delivery = page.locator(".webhook-delivery").first
    expect(delivery).to_contain_text("complaint.logged")
    expect(delivery).to_contain_text("Delivered")
    [request] = receiver.requests
    assert Webhook(secret).verify(request.body, request.headers)["data"]["complaint"]["reference"] == complaint.reference
