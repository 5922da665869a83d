"""The agent's desk in the browser: queue, intake form, complaint page, actions, panels, navigation."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cxrecovery import context as nav_context
from tests.factories import ComplaintFactory, CustomerFactory, UserFactory
from tickets import panels, selectors
from tickets.actors import ActorRef
from tickets.models import Comment, Complaint, Customer, Status, TimelineEvent
from tickets.services import comment_add, complaint_assign, complaint_transition

pytestmark = pytest.mark.django_db

QUEUE = "/complaints/"
NEW = "/complaints/new/"
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def signed_in(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


@pytest.fixture
def agent_web(signed_in, agent):
    return signed_in(agent)


@pytest.fixture
def no_panels(monkeypatch):
    """The complaint page without any registered panels (recovery's), for tickets-only assertions."""
    monkeypatch.setattr(panels, "_panels", {})


def html(response) -> str:
    return response.content.decode()


def detail_url(complaint: Complaint, action: str = "") -> str:
    return f"/complaints/{complaint.reference}/" + (f"{action}/" if action else "")


def make_complaints(n: int, **fields) -> list[Complaint]:
    values = {"customer": fields.pop("customer", None) or CustomerFactory(), "cause": "pricing", "severity": 3, **fields}
    rows = [Complaint(subject=f"Bulk {i}", **values) for i in range(n)]
    return Complaint.objects.bulk_create(rows)


# --- permissions -----------------------------------------------------------------------------------

PAGES = [QUEUE, NEW, f"{NEW}customers/?customer_email=ab"]


@pytest.mark.parametrize("who", ["anonymous", "outsider", "agent", "lead", "executive"])
@pytest.mark.parametrize("page", [*PAGES, "detail"])
def test_desk_pages_permission_matrix(request, client, complaint, who, page):
    url = detail_url(complaint) if page == "detail" else page
    if who != "anonymous":
        client.force_login(request.getfixturevalue(who))

    response = client.get(url)

    if who == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login") + "?next=")
    elif who == "outsider":
        assert response.status_code == 403
        assert "no support role" in html(response)
    else:
        assert response.status_code == 200


@pytest.mark.parametrize(
    ("who", "expected"), [("anonymous", 302), ("outsider", 403), ("agent", 302), ("lead", 302), ("executive", 302)]
)
def test_comment_action_permission_matrix(request, client, complaint, who, expected):
    if who != "anonymous":
        client.force_login(request.getfixturevalue(who))

    response = client.post(detail_url(complaint, "notes"), {"kind": "note", "body": "Called the customer"})

    assert response.status_code == expected
    assert Comment.objects.filter(complaint=complaint).exists() == (who not in ("anonymous", "outsider"))


@pytest.mark.parametrize("who", ["anonymous", "outsider"])
def test_status_and_assign_actions_refuse_people_without_a_role(request, client, complaint, who):
    if who != "anonymous":
        client.force_login(request.getfixturevalue(who))

    client.post(detail_url(complaint, "status"), {"to_status": "in_progress"})
    client.post(detail_url(complaint, "assign"), {"assignee": "me"})

    complaint.refresh_from_db()
    assert (complaint.status, complaint.assignee) == ("new", None)


def test_desk_htmx_request_after_sign_out_redirects_the_whole_window(client, complaint):
    response = client.post(detail_url(complaint, "notes"), {"body": "x"}, HTTP_HX_CURRENT_URL="http://testserver/complaints/", **HTMX)

    assert response.status_code == 200
    assert response["HX-Redirect"].startswith("/accounts/login/?next=")


def test_actions_refuse_get(agent_web, complaint):
    assert agent_web.get(detail_url(complaint, "status")).status_code == 405


# --- home and navigation -----------------------------------------------------------------------------


def test_home_sends_anonymous_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == reverse("login")


def test_home_sends_an_agent_to_the_queue(agent_web):
    assert agent_web.get("/")["Location"] == reverse("tickets:queue")


def test_home_sends_an_executive_to_approvals(signed_in, executive):
    response = signed_in(executive).get("/")
    assert response["Location"] == reverse("recovery:approvals")


def test_home_gives_a_person_without_role_a_clear_403(signed_in, outsider):
    response = signed_in(outsider).get("/")

    assert response.status_code == 403
    assert "no support role" in html(response) and "Sign out" in html(response)


def test_nav_shows_an_agent_the_desk_without_admin_or_manager_pages(agent_web):
    page = html(agent_web.get(QUEUE))

    assert 'href="/complaints/" aria-current="page">Queue' in page
    assert ">Log complaint<" in page
    assert "/admin/" not in page
    assert ">Rules<" not in page and ">Escalations<" not in page


def test_nav_shows_admin_only_to_staff(signed_in):
    staff = UserFactory(username="staff_sam", role="agent", is_staff=True)
    assert 'href="/admin/"' in html(signed_in(staff).get(QUEUE))


def test_nav_shows_senior_pages_by_role(signed_in, lead, senior):
    lead_page = html(signed_in(lead).get(QUEUE))
    manager_page = html(signed_in(senior).get(QUEUE))

    assert ">Escalations<" in lead_page
    assert ">Rules<" not in lead_page and ">Rules<" in manager_page


def test_nav_skips_url_names_that_do_not_exist_yet(agent_web, monkeypatch):
    monkeypatch.setattr(nav_context, "NAV_ITEMS", [*nav_context.NAV_ITEMS, ("Later", "recovery:not_built_yet", "agent")])

    response = agent_web.get(QUEUE)

    assert response.status_code == 200 and ">Later<" not in html(response)


def test_nav_shows_the_unread_notice_count(agent_web, agent):
    from notifications.services import notice_send

    notice_send(recipient=agent, title="One", email=False)
    notice_send(recipient=agent, title="Two", email=False)

    page = html(agent_web.get(QUEUE))

    assert re.search(r'id="nav-unread" class="count unread">2<', page)


# --- queue --------------------------------------------------------------------------------------


def test_queue_team_view_shows_open_complaints(agent_web):
    open_one = ComplaintFactory(subject="Still broken")
    done = ComplaintFactory(subject="All sorted", status=Status.RESOLVED)

    page = html(agent_web.get(QUEUE, {"view": "team"}))

    assert open_one.reference in page and done.reference not in page


def test_queue_status_all_includes_resolved(agent_web):
    done = ComplaintFactory(status=Status.CLOSED)
    assert done.reference in html(agent_web.get(QUEUE, {"status": "all"}))


@pytest.mark.parametrize(
    ("params", "match", "other"),
    [
        ({"cause": "pricing"}, {"cause": "pricing"}, {"cause": "staff_conduct"}),
        ({"grade": "ugly"}, {"grade": "ugly"}, {"grade": "bad"}),
        ({"severity_min": "4"}, {"severity": 5}, {"severity": 2}),
        ({"status": "waiting_on_customer"}, {"status": "waiting_on_customer"}, {"status": "new"}),
        ({"escalated": "true"}, {"tier": "manager"}, {"tier": "frontline"}),
        ({"q": "kettle"}, {"subject": "Kettle leaks"}, {"subject": "Sofa torn"}),
    ],
)
def test_queue_filters_with_the_shared_filterset(agent_web, params, match, other):
    wanted = ComplaintFactory(**match)
    unwanted = ComplaintFactory(**other)

    page = html(agent_web.get(QUEUE, params))

    assert wanted.reference in page and unwanted.reference not in page


def test_queue_filters_mine_and_unassigned(agent_web, agent, other_agent):
    mine = ComplaintFactory(assignee=agent)
    theirs = ComplaintFactory(assignee=other_agent)
    nobody = ComplaintFactory()

    mine_page = html(agent_web.get(QUEUE, {"assignee": "me"}))
    unassigned_page = html(agent_web.get(QUEUE, {"assignee": "none"}))

    assert mine.reference in mine_page and theirs.reference not in mine_page and nobody.reference not in mine_page
    assert nobody.reference in unassigned_page and mine.reference not in unassigned_page


def test_queue_filters_created_range_and_search_by_customer_email(agent_web):
    old = ComplaintFactory(customer=CustomerFactory(email="old.timer@example.com"))
    Complaint.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    recent = ComplaintFactory()
    since = (timezone.now() - timedelta(days=7)).date().isoformat()

    by_date = html(agent_web.get(QUEUE, {"created_after": since}))
    by_email = html(agent_web.get(QUEUE, {"q": "old.timer@"}))

    assert recent.reference in by_date and old.reference not in by_date
    assert old.reference in by_email and recent.reference not in by_email


def test_queue_marks_ugly_and_overdue_rows_with_words(agent_web):
    ugly = ComplaintFactory(grade="ugly")
    late = ComplaintFactory(response_due_at=timezone.now() - timedelta(hours=3))

    page = html(agent_web.get(QUEUE, {"view": "team"}))

    ugly_row = page[page.index(ugly.reference) - 400 : page.index(ugly.reference) + 1200]
    late_row = page[page.index(late.reference) - 400 : page.index(late.reference) + 1800]
    assert 'class="row-ugly' in ugly_row and '<span class="badge grade grade-ugly">Ugly</span>' in ugly_row
    assert "row-overdue" in late_row
    assert "<strong>Overdue</strong> by 3 h" in late_row


def test_queue_counts_open_complaints_per_status(agent_web):
    ComplaintFactory.create_batch(2, status=Status.NEW)
    ComplaintFactory(status=Status.IN_PROGRESS)
    ComplaintFactory(status=Status.CLOSED)

    page = html(agent_web.get(QUEUE))

    assert re.search(r"All open <strong>3</strong>", page)
    assert re.search(r"New <strong>2</strong>", page)
    assert re.search(r"In progress <strong>1</strong>", page)
    assert re.search(r"Waiting on customer <strong>0</strong>", page)


def test_queue_keeps_filters_in_the_url_of_sort_links_and_pages(agent_web):
    make_complaints(55, cause="pricing")

    page = html(agent_web.get(QUEUE, {"cause": "pricing", "sort": "-severity"}))

    next_link = re.search(r'rel="next" href="([^"]+)"', page).group(1)
    assert "cause=pricing" in next_link and "sort=-severity" in next_link and "cursor=" in next_link
    assert re.search(r'href="\?cause=pricing&amp;sort=severity"', page)  # clicking the sorted column flips it


def test_queue_htmx_filter_change_returns_only_the_results(agent_web):
    ComplaintFactory(subject="Partial please")

    response = agent_web.get(QUEUE, {"q": "Partial"}, HTTP_HX_TARGET="queue-results", **HTMX)

    body = html(response)
    assert "<html" not in body and 'id="queue-results"' in body and "Partial please" in body
    assert "HX-Request" in response["Vary"]


def test_queue_reports_filter_values_it_does_not_understand(agent_web):
    response = agent_web.get(QUEUE, {"cause": "weather", "created_after": "yesterday-ish"})

    assert response.status_code == 200
    assert "Some filters were not understood" in html(response)


def test_queue_empty_states_say_why(agent_web):
    assert "Nothing is assigned to you right now" in html(agent_web.get(QUEUE))
    ComplaintFactory(cause="pricing")
    assert "No complaints match these filters" in html(agent_web.get(QUEUE, {"cause": "ignored"}))


def test_queue_walks_every_page_once_in_order_and_back(agent_web):
    made = make_complaints(120)
    expected = [c.reference for c in sorted(made, key=lambda c: (c.created_at, c.pk), reverse=True)]

    seen, url, pages = [], QUEUE + "?view=team&sort=-created", []
    while url and len(pages) < 10:
        page = html(agent_web.get(url))
        pages.append(url)
        seen += re.findall(r'class="ref" href="/complaints/(CX-\d+)/"', page)
        match = re.search(r'rel="next" href="([^"]+)"', page)
        url = QUEUE + match.group(1).replace("&amp;", "&") if match else None
    last = html(agent_web.get(pages[-1]))
    previous = re.search(r'rel="prev" href="([^"]+)"', last).group(1).replace("&amp;", "&")
    back = re.findall(r'class="ref" href="/complaints/(CX-\d+)/"', html(agent_web.get(QUEUE + previous)))

    assert seen == expected and len(pages) == 3
    assert back == expected[50:100]


def test_queue_sql_uses_neither_offset_nor_a_count_of_the_filtered_set(agent_web):
    make_complaints(60)
    first = html(agent_web.get(QUEUE, {"view": "team"}))
    cursor_link = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")

    with CaptureQueriesContext(connection) as queries:
        agent_web.get(QUEUE + cursor_link)

    sql = [q["sql"].upper() for q in queries.captured_queries if "TICKETS_COMPLAINT" in q["sql"].upper()]
    assert not any(" OFFSET " in s for s in sql)
    counts = [s for s in sql if "COUNT(" in s]
    assert len(counts) == 1 and " LIMIT " in counts[0]  # the per-status counts, capped, nothing else


def _queue_queries(client, n_existing: int) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(QUEUE, {"status": "all"})
    assert response.status_code == 200
    return len(queries.captured_queries)


def test_queue_query_count_does_not_grow_with_rows(agent_web, agent, other_agent, django_assert_max_num_queries):
    ComplaintFactory.create_batch(3, assignee=agent)
    few = _queue_queries(agent_web, 3)
    for i in range(40):
        ComplaintFactory(assignee=other_agent if i % 2 else agent, grade="ugly" if i % 3 else "bad")

    with django_assert_max_num_queries(8):
        many = _queue_queries(agent_web, 43)

    assert many == few


# --- keyset pagination (selectors) ------------------------------------------------------------------


def walk(sort: str, size: int, user) -> list[int]:
    ids, cursor = [], None
    for _ in range(100):  # a cursor that stops advancing fails the test instead of hanging it
        page = selectors.complaint_queue_page(params=QueryDict("status=all"), user=user, sort=sort, cursor=cursor, size=size)
        ids += [c.pk for c in page.complaints]
        if not page.next_cursor:
            return ids
        cursor = page.next_cursor
    raise AssertionError("pagination did not end")


def walk_back(sort: str, size: int, user) -> list[int]:
    """From the last page back to the first, following previous cursors."""
    cursor = None
    for _ in range(100):
        page = selectors.complaint_queue_page(params=QueryDict("status=all"), user=user, sort=sort, cursor=cursor, size=size)
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    ids = [c.pk for c in page.complaints]
    for _ in range(100):
        if not page.previous_cursor:
            break
        page = selectors.complaint_queue_page(
            params=QueryDict("status=all"), user=user, sort=sort, cursor=page.previous_cursor, size=size
        )
        ids = [c.pk for c in page.complaints] + ids
    return ids


@pytest.mark.parametrize("sort", ["-created", "created", "-severity", "severity", "-risk", "risk", "due", "-due", "-updated"])
def test_complaint_queue_page_paginates_non_unique_and_nullable_columns_completely(agent, sort):
    now = timezone.now()
    made = make_complaints(23)
    for i, complaint in enumerate(made):
        Complaint.objects.filter(pk=complaint.pk).update(
            severity=1 + i % 3,  # many ties
            risk_score=None if i % 4 == 0 else (i * 7) % 50,  # NULLs among ties
            response_due_at=None if i % 5 == 0 else now + timedelta(hours=i % 4),
            created_at=now - timedelta(minutes=i % 6),  # ties on the timestamp too
        )
    field, nullable = selectors.QUEUE_SORT_FIELDS[sort.lstrip("-")]
    descending = sort.startswith("-")
    rows = list(Complaint.objects.values_list("pk", field))
    present = sorted([r for r in rows if r[1] is not None], key=lambda r: (r[1], r[0]), reverse=descending)
    expected = [r[0] for r in present] + sorted([r[0] for r in rows if r[1] is None], reverse=descending)

    assert walk(sort, 5, agent) == expected
    assert walk_back(sort, 5, agent) == expected


def test_complaint_queue_page_starts_over_on_a_tampered_cursor(agent):
    made = make_complaints(3)

    page = selectors.complaint_queue_page(params=QueryDict(""), user=agent, sort="-created", cursor="not-a-cursor!!")

    assert [c.pk for c in page.complaints] == sorted(c.pk for c in made)[::-1]
    assert page.previous_cursor is None


def test_queue_filter_params_default_to_open_and_drop_empty_values():
    assert selectors.queue_filter_params(QueryDict("q=&cause=pricing&status=")).dict() == {"cause": "pricing", "is_open": "true"}
    assert selectors.queue_filter_params(QueryDict("status=all&q=x")).dict() == {"q": "x"}
    assert selectors.queue_filter_params(QueryDict("status=new&status=closed")).getlist("status") == ["new", "closed"]


# --- intake form --------------------------------------------------------------------------------------


def form_data(**overrides) -> dict:
    data = {
        "customer_email": "Priya.Raman@Example.com",
        "customer_name": "Priya Raman",
        "customer_phone": "",
        "cause": "service_delay",
        "severity": "4",
        "channel": "phone",
        "subject": "Wedding cake two hours late",
        "description": "The cake arrived after the speeches.",
        "monetary_loss": "450.00",
        "threatens_public": "on",
        "submission_id": str(uuid.uuid4()),
    }
    data.update(overrides)
    return data


def test_log_form_has_a_label_for_every_input(agent_web):
    page = html(agent_web.get(NEW))

    ids = set(re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', page)) - {"id_submission_id"}
    labelled = set(re.findall(r'<label[^>]*for="([^"]+)"', page))
    assert ids and ids <= labelled


def test_log_form_creates_the_complaint_and_goes_to_its_page(agent_web, agent):
    response = agent_web.post(NEW, form_data())

    complaint = Complaint.objects.get()
    assert response.status_code == 302 and response["Location"] == detail_url(complaint)
    assert (complaint.source, complaint.channel, complaint.cause, complaint.severity) == ("web", "phone", "service_delay", 4)
    assert complaint.monetary_loss == Decimal("450.00") and complaint.threatens_public and not complaint.says_wont_return
    assert complaint.customer.email == "priya.raman@example.com" and complaint.customer.name == "Priya Raman"
    event = TimelineEvent.objects.get(complaint=complaint)
    assert (event.kind, event.actor_user) == ("logged", agent)


def test_log_form_attaches_the_complaint_to_an_existing_customer(agent_web):
    existing = CustomerFactory(email="priya.raman@example.com", name="Priya R.")

    agent_web.post(NEW, form_data(customer_name=""))

    assert Customer.objects.count() == 1
    assert Complaint.objects.get().customer == existing
    existing.refresh_from_db()
    assert existing.name == "Priya R."  # an empty name does not overwrite


def test_log_form_submitted_twice_logs_one_complaint(agent_web):
    data = form_data()

    first = agent_web.post(NEW, data)
    second = agent_web.post(NEW, data)

    assert Complaint.objects.count() == 1
    assert first["Location"] == second["Location"]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"subject": "   "}, "subject", "Write a one-line subject."),
        ({"customer_email": "priya@example"}, "customer_email", "Enter a valid email address."),
        ({"severity": ""}, "severity", "Choose how severe it is"),
        ({"severity": "9"}, "severity", "Select a valid choice."),
        ({"monetary_loss": "-5"}, "monetary_loss", "greater than or equal to 0"),
        ({"cause": "weather"}, "cause", "Select a valid choice."),
        ({"description": ""}, "description", "Describe what happened."),
    ],
)
def test_log_form_shows_errors_beside_fields_and_keeps_what_was_typed(agent_web, overrides, field, message):
    data = form_data(**overrides)

    response = agent_web.post(NEW, data)

    page = html(response)
    assert response.status_code == 422
    assert not Complaint.objects.exists()
    error_list = re.search(rf'<ul class="errorlist" id="id_{field}_error">(.*?)</ul>', page, re.S)
    assert error_list and message in error_list.group(1)
    assert "The complaint was not saved yet" in page
    assert "The cake arrived after the speeches." in page or field == "description"
    assert 'value="Priya Raman"' in page


def test_customer_lookup_needs_two_characters_and_offers_at_most_eight(agent_web):
    for i in range(10):
        CustomerFactory(email=f"priya{i}@example.com", name=f"Priya {i}")
    CustomerFactory(email="tom@example.com", name="Tom")

    short = html(agent_web.get(f"{NEW}customers/", {"customer_email": "p"}))
    many = html(agent_web.get(f"{NEW}customers/", {"customer_email": "pri"}))

    assert "<option" not in short
    assert many.count("<option ") == 8 and "tom@example.com" not in many


def test_customer_lookup_confirms_an_exact_match(agent_web):
    customer = CustomerFactory(email="grace.kim@example.com", name="Grace Kim")
    ComplaintFactory(customer=customer)

    page = html(agent_web.get(f"{NEW}customers/", {"customer_email": "Grace.Kim@example.com"}))

    assert "Existing customer: <strong>Grace Kim</strong>" in page and "1 earlier complaint." in page


def test_customer_lookup_says_a_new_customer_will_be_created(agent_web):
    assert "a new customer record will be created" in html(agent_web.get(f"{NEW}customers/", {"customer_email": "nobody@x.io"}))


# --- complaint page -------------------------------------------------------------------------------------


def test_complaint_page_shows_customer_card_with_history(agent_web, no_panels):
    customer = CustomerFactory(name="Hannah Moore", lifetime_value=Decimal("1560.00"), social_reach=48000)
    earlier = ComplaintFactory(customer=customer, subject="Late parcel", status=Status.RESOLVED, grade="bad")
    complaint = ComplaintFactory(customer=customer)

    page = html(agent_web.get(detail_url(complaint)))

    assert "Hannah Moore" in page and "1,560.00" in page and "48,000" in page
    history = page[page.index("Earlier complaints") :]
    assert earlier.reference in history and "Late parcel" in history
    assert "status-resolved" in history and "grade-bad" in history


def test_complaint_page_shows_grade_reasons_as_dicts_or_strings(agent_web, no_panels):
    complaint = ComplaintFactory(
        grade="ugly",
        risk_score=82,
        grade_reasons=[
            {"code": "says_wont_return", "text": "Says they won't come back", "points": 0, "forces_ugly": True},
            {"code": "severity", "text": "Severity 4 of 5", "points": 20, "forces_ugly": False},
            "A plain reason",
        ],
    )

    page = html(agent_web.get(detail_url(complaint)))

    assert "Says they won&#x27;t come back" in page and "makes it ugly" in page
    assert "Severity 4 of 5" in page and "+20" in page and "A plain reason" in page
    assert "<strong>82</strong>/100" in page


def test_complaint_page_says_how_overdue_a_deadline_is(agent_web, no_panels):
    now = timezone.now()
    complaint = ComplaintFactory(
        response_due_at=now - timedelta(hours=3, minutes=5), resolution_due_at=now + timedelta(hours=30, minutes=2)
    )

    page = html(agent_web.get(detail_url(complaint)))

    assert re.search(r'<span class="due late" data-due="[^"]+"><strong>Overdue</strong> by 3 h 5 min</span>', page)
    assert "30 h left" in page
    assert '<span class="flag flag-overdue">Overdue</span>' in page


def test_complaint_page_shows_only_the_allowed_status_moves(agent_web, no_panels):
    complaint = ComplaintFactory(status=Status.RESOLVED)

    page = html(agent_web.get(detail_url(complaint)))

    moves = re.findall(r'name="to_status" value="([a-z_]+)"', page)
    assert moves == ["in_progress", "closed"]
    assert ">Reopen<" in page


def test_complaint_page_timeline_is_newest_first_with_the_actor(agent_web, agent, other_agent, no_panels):
    complaint = ComplaintFactory()
    complaint_transition(complaint=complaint, to_status="in_progress", actor=ActorRef(user=agent))
    complaint_assign(complaint=complaint, assignee=other_agent, actor=ActorRef(user=agent))

    page = html(agent_web.get(detail_url(complaint)))

    timeline = page[page.index('class="timeline"') :]
    assert timeline.index("Assigned to Oscar Other") < timeline.index("Status new → in progress")
    assert "by Alice Agent" in timeline


def test_complaint_page_unknown_reference_is_404(agent_web):
    response = agent_web.get("/complaints/CX-999999/")
    assert response.status_code == 404 and "Page not found" in html(response)


def test_complaint_page_redirects_a_loosely_typed_reference(agent_web, complaint):
    response = agent_web.get(f"/complaints/cx{complaint.pk}/")
    assert response.status_code == 301 and response["Location"] == detail_url(complaint)


def test_complaint_page_query_count_does_not_grow_with_history(agent_web, agent, other_agent, no_panels, django_assert_max_num_queries):
    complaint = ComplaintFactory()
    with CaptureQueriesContext(connection) as before:
        agent_web.get(detail_url(complaint))
    actor = ActorRef(user=agent)
    for i in range(8):
        ComplaintFactory(customer=complaint.customer, assignee=other_agent, grade="bad")
        comment_add(complaint=complaint, kind="note" if i % 2 else "reply", body=f"Note {i}", actor=actor)
        complaint_assign(complaint=complaint, assignee=other_agent if i % 2 else agent, actor=actor)

    # 12: the page, plus its version (the latest timeline event) and the macros to insert.
    with django_assert_max_num_queries(12):
        response = agent_web.get(detail_url(complaint))

    assert response.status_code == 200
    with CaptureQueriesContext(connection) as after:
        agent_web.get(detail_url(complaint))
    assert len(after.captured_queries) == len(before.captured_queries)


# --- actions ---------------------------------------------------------------------------------------------


def test_comment_fallback_adds_a_note_and_redirects_back(agent_web, agent, complaint):
    response = agent_web.post(detail_url(complaint, "notes"), {"kind": "note", "body": "Offered a call back"})

    assert response.status_code == 302 and response["Location"] == detail_url(complaint)
    comment = Comment.objects.get(complaint=complaint)
    assert (comment.kind, comment.body, comment.author) == ("note", "Offered a call back", agent)
    assert "Note added." in html(agent_web.get(detail_url(complaint)))


def test_comment_htmx_answers_with_the_updated_complaint_and_a_message(agent_web, complaint, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = agent_web.post(detail_url(complaint, "notes"), {"kind": "reply", "body": "Sorry, fixing it today"}, **HTMX)

    page = html(response)
    assert response.status_code == 200 and "<html" not in page
    assert 'id="complaint"' in page and "Sorry, fixing it today" in page
    assert 'id="flash" hx-swap-oob="innerHTML"' in page and "being emailed to" in page
    complaint.refresh_from_db()
    assert complaint.first_response_at is not None


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_comment_blank_body_shows_the_error_beside_the_field(agent_web, complaint, headers):
    response = agent_web.post(detail_url(complaint, "notes"), {"kind": "note", "body": "   "}, **headers)

    assert response.status_code == 422
    assert re.search(r'id="id_body_error"><li>Write something before saving\.', html(response))
    assert not Comment.objects.exists()


def test_transition_moves_the_status_and_writes_the_timeline(agent_web, complaint):
    response = agent_web.post(detail_url(complaint, "status"), {"to_status": "in_progress", "note": "Calling now"}, **HTMX)

    complaint.refresh_from_db()
    assert complaint.status == "in_progress"
    assert "is now in progress" in html(response)
    assert TimelineEvent.objects.filter(complaint=complaint, kind="status_changed", message__contains="Calling now").exists()


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_transition_not_allowed_is_a_clear_message_not_a_500(agent_web, complaint, headers):
    Complaint.objects.filter(pk=complaint.pk).update(status=Status.CLOSED)

    response = agent_web.post(detail_url(complaint, "status"), {"to_status": "in_progress"}, follow=not headers, **headers)

    assert response.status_code in (200, 409)
    assert "cannot move to in progress" in html(response)
    complaint.refresh_from_db()
    assert complaint.status == "closed"


def test_transition_unknown_status_is_refused(agent_web, complaint):
    response = agent_web.post(detail_url(complaint, "status"), {"to_status": "vanished"}, **HTMX)
    assert response.status_code == 400 and "Choose a status" in html(response)


def test_assign_to_me_then_someone_then_the_agent_may_no_longer_take_it_back(agent_web, agent, lead, complaint):
    agent_web.post(detail_url(complaint, "assign"), {"assignee": "me"})
    complaint.refresh_from_db()
    assert complaint.assignee == agent

    response = agent_web.post(detail_url(complaint, "assign"), {"assignee": str(lead.pk)}, **HTMX)
    complaint.refresh_from_db()
    assert complaint.assignee == lead and "assigned to Lena Lead" in html(response)

    # It is the lead's now: only they (or another lead) move it or hand it on.
    response = agent_web.post(detail_url(complaint, "assign"), {"assignee": "none"}, **HTMX)
    complaint.refresh_from_db()
    assert response.status_code == 409 and "only they or a team lead" in html(response)
    assert complaint.assignee == lead


def test_assign_to_someone_without_a_role_is_refused_with_a_message(agent_web, outsider, complaint):
    response = agent_web.post(detail_url(complaint, "assign"), {"assignee": str(outsider.pk)}, **HTMX)

    assert response.status_code == 422 and "has no support role" in html(response)
    complaint.refresh_from_db()
    assert complaint.assignee is None


def test_assign_offers_only_people_with_a_role(agent_web, outsider, lead, complaint, no_panels):
    page = html(agent_web.get(detail_url(complaint)))
    options = page[page.index('id="assign-to"') : page.index("</select>", page.index('id="assign-to"'))]
    assert "Lena Lead" in options and outsider.get_full_name() not in options


def test_lead_and_executive_can_work_a_complaint(signed_in, lead, executive, complaint):
    signed_in(lead).post(detail_url(complaint, "status"), {"to_status": "in_progress"})
    signed_in(executive).post(detail_url(complaint, "status"), {"to_status": "resolved"})

    complaint.refresh_from_db()
    assert complaint.status == "resolved"


# --- panels -----------------------------------------------------------------------------------------------


def test_complaint_panels_render_in_order_and_skip_empty_ones(agent_web, complaint, no_panels):
    panels.register_complaint_panel("second", 20, lambda request, c: f'<section class="card">Second for {c.reference}</section>')
    panels.register_complaint_panel("first", 10, lambda request, c: "<section class=\"card\">First <b>bold</b></section>")
    panels.register_complaint_panel("nothing", 5, lambda request, c: None)

    page = html(agent_web.get(detail_url(complaint)))

    side = page[page.index('class="complaint-side"') :]
    assert side.index("First <b>bold</b>") < side.index(f"Second for {complaint.reference}")


def test_complaint_panel_registered_again_replaces_the_earlier_one(no_panels, rf, complaint):
    panels.register_complaint_panel("dummy", 10, lambda request, c: "old")
    panels.register_complaint_panel("dummy", 10, lambda request, c: "new")

    assert panels.complaint_panels(rf.get("/"), complaint) == ["new"]


def test_complaint_panel_that_fails_does_not_break_the_page(agent_web, complaint, no_panels, caplog):
    def broken(request, c):
        raise RuntimeError("boom")

    panels.register_complaint_panel("broken", 1, broken)

    response = agent_web.get(detail_url(complaint))

    assert response.status_code == 200
    assert "This panel could not be shown" in html(response) and "boom" in caplog.text


def test_complaint_page_shows_the_panels_recovery_registered(agent_web, complaint):
    registered = panels.registered_complaint_panels()
    response = agent_web.get(detail_url(complaint))
    assert response.status_code == 200
    assert len(registered) == 0 or "complaint-side" in html(response)
