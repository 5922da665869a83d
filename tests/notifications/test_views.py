"""The in-app notices page: a person's own notices, mark read, open, and the unread count in the header."""

from __future__ import annotations

import re

import pytest

from notifications.models import Notification
from notifications.services import notice_send

pytestmark = pytest.mark.django_db

NOTICES = "/notices/"
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def web(client, agent):
    client.force_login(agent)
    return client


def notice(recipient, title: str, url: str = "/complaints/CX-000001/") -> Notification:
    return notice_send(recipient=recipient, title=title, body="Assigned by Lena Lead.", url=url, email=False)


def html(response) -> str:
    return response.content.decode()


def test_notices_page_needs_sign_in(client):
    response = client.get(NOTICES)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=/notices/")


def test_notices_page_lists_only_my_notices_newest_first(web, agent, other_agent):
    notice(agent, "Older one")
    notice(agent, "Newer one")
    notice(other_agent, "Not yours")

    page = html(web.get(NOTICES))

    assert page.index("Newer one") < page.index("Older one")
    assert "Not yours" not in page
    assert "<title>Notices (2 unread)" in page


def test_notices_page_has_an_empty_state(web):
    assert "No notices yet." in html(web.get(NOTICES))
    assert "No unread notices." in html(web.get(NOTICES, {"show": "unread"}))


def test_notices_unread_filter_hides_read_ones(web, agent):
    read = notice(agent, "Seen it")
    Notification.objects.filter(pk=read.pk).update(read_at="2026-01-01T00:00:00Z")
    notice(agent, "Fresh")

    page = html(web.get(NOTICES, {"show": "unread"}))

    assert "Fresh" in page and "Seen it" not in page


def test_mark_one_read_fallback_redirects_back(web, agent):
    first = notice(agent, "First")
    second = notice(agent, "Second")

    response = web.post("/notices/read/", {"id": first.pk, "next": "/notices/?show=unread"})

    assert response.status_code == 302 and response["Location"] == "/notices/?show=unread"
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.read_at is not None and second.read_at is None


def test_mark_read_cannot_touch_someone_elses_notice(web, other_agent):
    theirs = notice(other_agent, "Theirs")

    web.post("/notices/read/", {"id": theirs.pk})

    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_all_read_with_htmx_updates_the_list_and_the_header_count(web, agent):
    notice(agent, "One")
    notice(agent, "Two")

    response = web.post("/notices/read/", {"all": "1"}, **HTMX)

    page = html(response)
    assert "<html" not in page
    assert not Notification.objects.filter(recipient=agent, read_at__isnull=True).exists()
    assert re.search(r'<span id="nav-unread" class="count" hx-swap-oob="true">0<', page)
    assert "All notices marked read." in page


def test_mark_read_ignores_a_foreign_next_url(web, agent):
    notice(agent, "One")
    response = web.post("/notices/read/", {"all": "1", "next": "https://evil.example/"})
    assert response["Location"] == "/notices/"


def test_open_marks_read_and_goes_to_the_page(web, agent):
    item = notice(agent, "CX-000001 was assigned to you")

    response = web.post(f"/notices/{item.pk}/open/")

    assert response.status_code == 302 and response["Location"] == "/complaints/CX-000001/"
    item.refresh_from_db()
    assert item.read_at is not None


def test_open_never_redirects_off_site(web, agent):
    item = notice(agent, "Phishy", url="//evil.example/steal")
    assert web.post(f"/notices/{item.pk}/open/")["Location"] == "/notices/"


def test_open_someone_elses_notice_is_404(web, other_agent):
    item = notice(other_agent, "Theirs")
    assert web.post(f"/notices/{item.pk}/open/").status_code == 404


def test_notices_page_pages_with_a_keyset(web, agent):
    for i in range(55):
        notice(agent, f"Notice {i:02d}")

    first = html(web.get(NOTICES))
    older = re.search(r'href="\?before=(\d+)"', first).group(1)
    second = html(web.get(NOTICES, {"before": older}))

    assert "Notice 54" in first and "Notice 04" not in first
    assert "Notice 04" in second and "Notice 54" not in second and "Notice 00" in second


def test_header_shows_the_unread_count_with_a_link(web, agent):
    notice(agent, "One")

    page = html(web.get(NOTICES))

    assert re.search(r'<a class="notices-link" href="/notices/" aria-current="page">Notices <span id="nav-unread" class="count unread">1<', page)


def test_notices_page_query_count_does_not_grow(web, agent, django_assert_max_num_queries):
    notice(agent, "One")
    with django_assert_max_num_queries(8):
        web.get(NOTICES)
    for i in range(30):
        notice(agent, f"More {i}")
    with django_assert_max_num_queries(8):
        web.get(NOTICES)
