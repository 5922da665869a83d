"""What a helpdesk admin pastes into their helpdesk: the steps and payload templates, per kind.

Shown on /integrations/ and repeated in docs/integrations.md; `{url}` is the connection's inbound URL.
"""

from __future__ import annotations

from dataclasses import dataclass

ZENDESK_TRIGGER_TEMPLATE = """{
  "event": "trigger",
  "ticket": {
    "id": "{{ticket.id}}",
    "title": "{{ticket.title}}",
    "description": "{{ticket.description}}",
    "status": "{{ticket.status}}",
    "priority": "{{ticket.priority}}",
    "via": "{{ticket.via}}",
    "tags": "{{ticket.tags}}",
    "updated_at": "{{ticket.updated_at_with_timestamp}}",
    "requester": {
      "id": "{{ticket.requester.id}}",
      "name": "{{ticket.requester.name}}",
      "email": "{{ticket.requester.email}}"
    },
    "comment": {
      "body": "{{ticket.latest_public_comment}}",
      "author_id": "{{current_user.id}}"
    },
    "satisfaction": "{{satisfaction.current_rating}}"
  }
}"""

FRESHDESK_TEMPLATE = """{
  "freshdesk_webhook": {
    "ticket_id": "{{ticket.id}}",
    "ticket_subject": "{{ticket.subject}}",
    "ticket_description": "{{ticket.description_text}}",
    "ticket_status": "{{ticket.status}}",
    "ticket_priority": "{{ticket.priority}}",
    "ticket_source": "{{ticket.source}}",
    "ticket_tags": "{{ticket.tags}}",
    "ticket_latest_public_comment": "{{ticket.latest_public_comment}}",
    "requester_name": "{{ticket.requester.name}}",
    "requester_email": "{{ticket.requester.email}}",
    "requester_phone": "{{ticket.requester.phone}}",
    "triggered_event": "{{triggered_event}}"
  }
}"""


@dataclass(frozen=True)
class Setup:
    steps: tuple[str, ...]
    template_title: str = ""
    template: str = ""


SETUPS: dict[str, Setup] = {
    "zendesk": Setup(
        steps=(
            "In Zendesk Admin Center open Apps and integrations → Webhooks → Create webhook.",
            "Choose “Zendesk events”, and select the ticket events: Ticket created, Status changed, Comment added, "
            "Priority changed, Tags changed (others are stored and ignored).",
            "Endpoint URL: {url} · Request method POST · Request format JSON · Authentication: None.",
            "Create the webhook, open it, and reveal its signing secret. Paste it below under “Replace or add a "
            "secret”: CX Recovery checks every request's X-Zendesk-Webhook-Signature.",
            "Optional, for requester emails and satisfaction ratings: create a second webhook “Trigger or "
            "automation” with the same URL, add its signing secret with “Keep the current secret too” ticked, and "
            "a trigger (Ticket is Created, or Ticket is Updated) whose action “Notify by → Active webhook” sends "
            "the JSON body below.",
        ),
        template_title="Trigger webhook JSON body",
        template=ZENDESK_TRIGGER_TEMPLATE,
    ),
    "freshdesk": Setup(
        steps=(
            "In Freshdesk Admin → Workflows → Automations, create a rule under “Ticket creation” and one under "
            "“Ticket updates” (for example: status is changed, priority is changed, reply is sent by requester).",
            "Action: Trigger webhook · Request type POST · URL: {url}.",
            "Tick “Requires authentication”: user name anything (for example cxrecovery), password: this "
            "connection's secret.",
            "Encoding JSON · Content: Advanced, and paste the body below (or Simple, ticking the same fields).",
        ),
        template_title="Webhook JSON body",
        template=FRESHDESK_TEMPLATE,
    ),
    "zammad": Setup(
        steps=(
            "In Zammad Settings → Manage → Webhook → New Webhook: Endpoint {url}, HMAC SHA1 Signature Token: this "
            "connection's secret, SSL verification on. Leave the payload empty (the default payload is expected).",
            "Settings → Manage → Trigger → New Trigger: conditions “Action is created” (and a second trigger for "
            "“Action is updated”), execute “Webhook → the webhook above”.",
            "Zammad signs each request with X-Hub-Signature and names it with X-Zammad-Delivery.",
        ),
    ),
    "helpscout": Setup(
        steps=(
            "In Help Scout open Manage → Apps → Webhooks (or your profile → Webhooks) and add a webhook.",
            "Callback URL: {url} · Secret Key: this connection's secret (at most 40 characters).",
            "Events: Conversation Created, Status Updated, Tags Updated, Customer Reply, Agent Reply, and Ratings "
            "Received. Saving sends a test (helpscout.test); it appears in the delivery log below.",
        ),
    ),
}


def setup_for(kind: str, url: str) -> dict[str, object]:
    setup = SETUPS[kind]
    return {
        "steps": [step.replace("{url}", url) for step in setup.steps],
        "template_title": setup.template_title,
        "template": setup.template,
    }
