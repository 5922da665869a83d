"""The desk (issue 14): urgency-first queue, macros, saved views, bulk actions, edit collisions, mentions, and the
complaint page fixes. Browser journeys are in tests/e2e/test_desk.py."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.http import QueryDict
from django.utils import timezone

from notifications.models import Notification
from tests.factories import ComplaintFactory, CustomerFactory
from tickets import selectors
from tickets.actors import ActorRef
from tickets.macros import macro_render
from tickets.models import Comment, Complaint, Macro, SavedView, Status, TimelineEvent
from tickets.services import comment_add, complaint_assign, complaint_transition, mentioned_usernames

pytestmark = pytest.mark.django_db

QUEUE = "/complaints/"
HTMX = {"HTTP_HX_REQUEST": "true"}


def html(response) -> str:
    return response.content.decode()


def refs(page: str) -> list[str]:
    return re.findall(r'class="ref" href="/complaints/(CX-\d+)/"', page)


def url(complaint: Complaint, action: str = "") -> str:
    return f"/complaints/{complaint.reference}/" + (f"{action}/" if action else "")


@pytest.fixture
def web(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


# --- the queue: my open work, most urgent first -------------------------------------------------------------


def test_queue_default_is_my_open_work_most_urgent_first(web, agent, other_agent):
    # given: my cases with deadlines at various distances, and cases that are not mine or not open
    now = timezone.now()
    later = ComplaintFactory(assignee=agent, grade="bad", response_due_at=now + timedelta(hours=20))
    no_deadline = ComplaintFactory(assignee=agent, grade="ugly")
    long_overdue = ComplaintFactory(assignee=agent, grade="bad", response_due_at=now - timedelta(days=30))
    soon_bad = ComplaintFactory(assignee=agent, grade="bad", resolution_due_at=now + timedelta(hours=2))
    soon_ugly = ComplaintFactory(assignee=agent, grade="ugly", resolution_due_at=soon_bad.resolution_due_at)
    just_overdue = ComplaintFactory(assignee=agent, grade="neutral", response_due_at=now - timedelta(minutes=5))
    answered = ComplaintFactory(  # answered: the response deadline no longer counts, the resolution one does
        assignee=agent, response_due_at=now - timedelta(days=2), first_response_at=now - timedelta(days=3),
        resolution_due_at=now + timedelta(hours=10),
    )
    theirs = ComplaintFactory(assignee=other_agent, response_due_at=now - timedelta(days=40))
    done = ComplaintFactory(assignee=agent, status=Status.RESOLVED, response_due_at=now - timedelta(days=50))

    # when
    page = html(web(agent).get(QUEUE))

    # then
    assert refs(page) == [
        c.reference for c in [long_overdue, just_overdue, soon_ugly, soon_bad, answered, later, no_deadline]
    ]
    assert theirs.reference not in page and done.reference not in page
    assert 'aria-current="page">My open work<' in page
    assert '<label for="id_sort">Sort by</label>' in page and "Most urgent first" in page


def test_urgency_order_pages_through_every_row_once(agent):
    now = timezone.now()
    made = [
        ComplaintFactory(assignee=agent, response_due_at=now + timedelta(hours=i % 7) if i % 3 else None, grade="bad")
        for i in range(23)
    ]
    seen, cursor = [], None
    for _ in range(10):
        page = selectors.complaint_queue_page(params=QueryDict("assignee=me"), user=agent, cursor=cursor, size=5)
        seen += [c.pk for c in page.complaints]
        cursor = page.next_cursor
        if not cursor:
            break
    assert sorted(seen) == sorted(c.pk for c in made) and len(seen) == len(set(seen))


def test_queue_team_views_are_for_leads(web, agent, lead, other_agent):
    ComplaintFactory(assignee=other_agent, tier="manager")
    agent_page = html(web(agent).get(QUEUE, {"view": "team"}))
    assert "Escalated</a>" not in agent_page and 'aria-label="Open work per person"' not in agent_page

    lead_page = html(web(lead).get(QUEUE, {"view": "team"}))
    assert ">Escalated</a>" in lead_page
    assert re.search(r'aria-label="Open work per person".*Oscar Other</a>: 1 open', lead_page, re.S)


def test_queue_rows_are_one_line_each_with_a_checkbox(web, agent):
    complaint = ComplaintFactory(assignee=agent)
    page = html(web(agent).get(QUEUE))
    assert 'class="queue compact"' in page
    assert f'name="ids" value="{complaint.pk}"' in page


# --- saved views ---------------------------------------------------------------------------------------


def test_saved_view_is_private_unless_a_lead_shares_it(web, agent, other_agent, lead):
    client = web(agent)
    response = client.post("/complaints/views/", {"name": "Pricey ones", "query": "cause=pricing&view=team&cursor=x", "shared": "on"})
    view = SavedView.objects.get()
    assert (view.owner, view.shared, view.query) == (agent, False, "cause=pricing&view=team")  # no paging kept
    assert response.status_code == 302 and response["Location"] == "/complaints/?cause=pricing&view=team"

    mine = html(client.get(QUEUE, {"cause": "pricing", "view": "team"}))
    assert re.search(r'<a href="/complaints/\?cause=pricing&amp;view=team" aria-current="page"[^>]*>Pricey ones', mine)
    assert "Pricey ones" not in html(web(other_agent).get(QUEUE))

    web(lead).post("/complaints/views/", {"name": "Ugly ones", "query": "grade=ugly", "shared": "on"})
    assert "Ugly ones" in html(web(other_agent).get(QUEUE))


def test_saved_view_with_invalid_filters_is_refused(web, agent):
    web(agent).post("/complaints/views/", {"name": "Broken", "query": "severity_min=lots"})
    assert not SavedView.objects.exists()


def test_saved_view_removed_only_by_its_owner(web, agent, other_agent):
    view = SavedView.objects.create(owner=agent, name="Mine", query="grade=bad")
    assert web(other_agent).post(f"/complaints/views/{view.pk}/delete/").status_code == 403
    web(agent).post(f"/complaints/views/{view.pk}/delete/")
    assert not SavedView.objects.exists()


# --- bulk actions --------------------------------------------------------------------------------------


def test_bulk_status_refuses_a_case_the_agent_may_not_touch_and_does_the_others(web, agent, other_agent):
    # given: two unassigned or own cases, one of a colleague's, one already resolved
    mine = ComplaintFactory(assignee=agent)
    free = ComplaintFactory()
    theirs = ComplaintFactory(assignee=other_agent)

    # when
    response = web(agent).post(
        "/complaints/bulk/",
        {"ids": [mine.pk, free.pk, theirs.pk], "action": "status", "to_status": "in_progress", "next": "/complaints/?view=team"},
        follow=True,
    )

    # then
    statuses = dict(Complaint.objects.values_list("pk", "status"))
    assert statuses == {mine.pk: "in_progress", free.pk: "in_progress", theirs.pk: "new"}
    page = html(response)
    assert f"Done for 2: {mine.reference}, {free.reference}." in page
    assert f"Not done for 1: {theirs.reference} is assigned to Oscar Other" in page
    assert response.redirect_chain[-1][0] == "/complaints/?view=team"


def test_bulk_status_follows_the_transition_table(web, lead):
    closed = ComplaintFactory(status=Status.CLOSED)
    new = ComplaintFactory()
    response = web(lead).post("/complaints/bulk/", {"ids": [closed.pk, new.pk], "action": "status", "to_status": "waiting_on_customer"}, follow=True)
    assert Complaint.objects.get(pk=new.pk).status == "waiting_on_customer"
    assert Complaint.objects.get(pk=closed.pk).status == "closed"
    assert "cannot move to waiting on customer" in html(response)


def test_bulk_assign_and_tag_write_one_event_each(web, lead, agent):
    a, b = ComplaintFactory(), ComplaintFactory(tags=["vip"])
    client = web(lead)
    client.post("/complaints/bulk/", {"ids": [a.pk, b.pk], "action": "assign", "assignee": str(agent.pk)})
    client.post("/complaints/bulk/", {"ids": [a.pk, b.pk], "action": "tag", "tag": " VIP "})
    a.refresh_from_db(), b.refresh_from_db()
    assert a.assignee == agent == b.assignee
    assert (a.tags, b.tags) == (["vip"], ["vip"])
    assert TimelineEvent.objects.filter(kind="tagged").count() == 1  # b had the tag already
    assert TimelineEvent.objects.filter(kind="assigned").count() == 2


def test_bulk_without_ticks_says_so(web, agent):
    response = web(agent).post("/complaints/bulk/", {"action": "tag", "tag": "x"}, follow=True)
    assert "Tick at least one complaint first." in html(response)


def test_single_status_change_of_a_colleagues_case_is_refused_for_an_agent(web, agent, other_agent):
    theirs = ComplaintFactory(assignee=other_agent)
    response = web(agent).post(url(theirs, "status"), {"to_status": "resolved"}, **HTMX)
    assert response.status_code == 409 and "only they or a team lead" in html(response)
    assert Complaint.objects.get(pk=theirs.pk).status == "new"


# --- macros --------------------------------------------------------------------------------------------


def test_macro_placeholders_are_filled_as_plain_text():
    customer = CustomerFactory(name="{{reference}} <b>Ann</b> {% load x %}")
    complaint = ComplaintFactory(customer=customer, subject="Cold soup")
    body = "Dear {{ customer_name }}, about {{reference}} ({{subject}}): {{unknown}} {% now 'Y' %} {{ reference.pk }}"
    text = macro_render(body, complaint=complaint)
    assert text == (
        f"Dear {{{{reference}}}} <b>Ann</b> {{% load x %}}, about {complaint.reference} (Cold soup): "
        "{{unknown}} {% now 'Y' %} {{ reference.pk }}"
    )


def test_macros_are_managed_by_leads_not_agents(web, agent, lead):
    assert web(agent).get("/macros/").status_code == 403
    assert web(agent).post("/macros/new/", {"title": "x", "kind": "reply", "body": "y", "active": "on"}).status_code == 403

    client = web(lead)
    response = client.post("/macros/new/", {"title": "Sorry", "kind": "reply", "body": "Hi {{customer_name}}", "active": "on"})
    assert response.status_code == 302
    macro = Macro.objects.get()
    assert (macro.title, macro.kind, macro.created_by) == ("Sorry", "reply", lead)
    client.post(f"/macros/{macro.pk}/", {"title": "Sorry", "kind": "note", "body": "Changed", "active": ""})
    macro.refresh_from_db()
    assert (macro.kind, macro.body, macro.active) == ("note", "Changed", False)


def test_macro_with_an_unknown_placeholder_is_refused(web, lead):
    response = web(lead).post("/macros/new/", {"title": "Oops", "kind": "reply", "body": "Hi {{customer_nmae}}"})
    assert response.status_code == 422
    assert "Unknown placeholder: {{customer_nmae}}" in html(response)
    assert not Macro.objects.exists()


def test_macro_inserted_on_the_complaint_page_after_what_was_typed(web, agent, lead):
    customer = CustomerFactory(name="Hannah Moore")
    complaint = ComplaintFactory(customer=customer)
    macro = Macro.objects.create(title="Apology", kind="reply", body="Dear {{customer_name}}, re {{reference}}.")
    page = html(web(agent).get(url(complaint)))
    assert f'<option value="{macro.pk}">Apology (reply to the customer)</option>' in page

    response = web(agent).get(url(complaint, "macro"), {"macro": macro.pk, "body": "Typed first.", "kind": "note"}, **HTMX)
    fragment = html(response)
    assert f"Typed first.\n\nDear Hannah Moore, re {complaint.reference}." in fragment
    assert re.search(r'value="reply"[^>]*checked', fragment)


# --- edit collisions (optimistic concurrency) ---------------------------------------------------------


def test_stale_note_is_refused_with_the_change_and_keeps_the_text(web, agent, lead):
    complaint = ComplaintFactory()
    page = html(web(agent).get(url(complaint)))
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    # someone else moves it meanwhile
    complaint_transition(complaint=complaint, to_status="in_progress", actor=ActorRef(user=lead))

    client = web(agent)
    response = client.post(url(complaint, "notes"), {"kind": "note", "body": "My careful words", "version": version}, **HTMX)
    body = html(response)
    assert response.status_code == 409
    assert "was changed while you had it open: status changed (Status new → in progress) by Lena Lead" in body
    assert "My careful words</textarea>" in body
    assert not Comment.objects.exists()

    # saving again from the refreshed form goes through
    fresh = re.search(r'name="version" value="(\d+)"', body).group(1)
    client.post(url(complaint, "notes"), {"kind": "note", "body": "My careful words", "version": fresh}, **HTMX)
    assert Comment.objects.get().body == "My careful words"


def test_own_changes_do_not_count_as_a_collision(web, agent):
    complaint = ComplaintFactory()
    client = web(agent)
    version = re.search(r'name="version" value="(\d+)"', html(client.get(url(complaint)))).group(1)
    comment_add(complaint=complaint, kind="note", body="first", actor=ActorRef(user=agent))
    response = client.post(url(complaint, "status"), {"to_status": "in_progress", "version": version}, **HTMX)
    assert response.status_code == 200 and Complaint.objects.get(pk=complaint.pk).status == "in_progress"


def test_open_page_polls_for_other_peoples_changes(web, agent, lead):
    complaint = ComplaintFactory()
    version = selectors.complaint_version(complaint=complaint)
    assert html(web(agent).get(url(complaint, "changes"), {"version": version}, **HTMX)).strip() == ""
    complaint_assign(complaint=complaint, assignee=lead, actor=ActorRef(user=lead))
    warning = html(web(agent).get(url(complaint, "changes"), {"version": version}, **HTMX))
    assert "Someone else changed" in warning and "assigned (Assigned to Lena Lead) by Lena Lead" in warning


# --- @mentions -----------------------------------------------------------------------------------------


def test_mentioned_usernames_are_found_once_without_trailing_punctuation():
    assert mentioned_usernames("@lena_lead, see this. cc @Lena_Lead and @mia. mail a@b.com") == ["lena_lead", "mia"]


def test_a_mention_in_a_note_notifies_that_person_once(agent, lead, other_agent, django_capture_on_commit_callbacks):
    complaint = ComplaintFactory()
    with django_capture_on_commit_callbacks(execute=True):
        comment = comment_add(
            complaint=complaint, kind="note", body="@lead_lena can you approve? @nobody_here @agent_alice", actor=ActorRef(user=agent)
        )
    notices = list(Notification.objects.all())
    assert [(n.recipient, n.url) for n in notices] == [(lead, f"/complaints/{complaint.reference}/#comment-{comment.pk}")]
    assert "mentioned you on" in notices[0].title
    event = TimelineEvent.objects.get(kind="commented")
    assert event.data["mentions"] == [lead.pk] and "mentioning @lead_lena" in event.message


# --- complaint page fixes ------------------------------------------------------------------------------


def test_resolve_is_not_primary_on_a_new_unanswered_case_and_asks_first(web, agent):
    complaint = ComplaintFactory()
    page = html(web(agent).get(url(complaint)))
    resolve = re.search(r'<button[^>]*id="move-resolved"[^>]*>', page).group(0)
    start = re.search(r'<button[^>]*id="move-in_progress"[^>]*>', page).group(0)
    assert "primary" not in resolve and 'data-confirm="Resolve' in resolve and "Nobody has answered" in resolve
    assert "primary" in start

    Complaint.objects.filter(pk=complaint.pk).update(status="in_progress", first_response_at=timezone.now())
    resolve = re.search(r'<button[^>]*id="move-resolved"[^>]*>', html(web(agent).get(url(complaint)))).group(0)
    assert "primary" in resolve and "data-confirm" in resolve


def test_reply_box_comes_before_grade_and_timeline(web, agent):
    page = html(web(agent).get(url(ComplaintFactory())))
    assert page.index('id="id_body"') < page.index('id="grade-title"') < page.index('id="timeline-title"')


def test_new_note_is_marked_for_the_page_to_keep_in_view(web, agent):
    complaint = ComplaintFactory()
    response = web(agent).post(url(complaint, "notes"), {"kind": "note", "body": "Called back"}, **HTMX)
    comment = Comment.objects.get()
    assert f'class="comment comment-note is-new" id="comment-{comment.pk}"' in html(response)


def test_customer_card_links_to_the_customer_page(web, agent):
    complaint = ComplaintFactory()
    page = html(web(agent).get(url(complaint)))
    assert f'href="/customers/{complaint.customer_id}/" id="customer-page-link"' in page


def test_new_customer_needs_a_name_on_the_form(web, agent):
    form = {
        "customer_email": "brand.new@example.com", "customer_name": "", "cause": "pricing", "severity": "3",
        "channel": "phone", "subject": "Charged twice", "description": "Twice.", "monetary_loss": "0",
        "submission_id": "3f0b7f5e-0a4a-4d0e-9d1e-2f8a9d1d7c11",
    }
    client = web(agent)
    response = client.post("/complaints/new/", form)
    assert response.status_code == 422 and "Give the customer&#x27;s name" in html(response)
    assert not Complaint.objects.exists()

    CustomerFactory(email="known@example.com", name="Known Person")
    response = client.post("/complaints/new/", {**form, "customer_email": "known@example.com"})
    assert response.status_code == 302  # an existing customer keeps their name


def test_deadlines_carry_their_time_for_the_ticking_script(web, agent):
    due = timezone.now() + timedelta(hours=5)
    ComplaintFactory(assignee=agent, response_due_at=due)
    page = html(web(agent).get(QUEUE))
    assert f'data-due="{due.isoformat()}"' in page


def test_unread_count_refreshes_in_place(web, agent):
    from notifications.services import notice_send

    notice_send(recipient=agent, title="Hello", email=False)
    response = web(agent).get("/notices/unread/", **HTMX)
    assert '<span id="nav-unread" class="count unread" hx-swap-oob="true">1<' in html(response)
    assert 'hx-get="/notices/unread/" hx-trigger="every 60s"' in html(web(agent).get(QUEUE))


def test_search_ignores_the_view(web, agent):
    theirs = ComplaintFactory(subject="Gift card refused")
    page = html(web(agent).get(QUEUE, {"view": "mine", "q": "gift card"}))
    assert refs(page) == [theirs.reference]
