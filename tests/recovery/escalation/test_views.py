"""Browser pages of escalation: the inbox, rule editing, grading settings, backtests, and the complaint panel."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from recovery.escalation import services
from recovery.escalation.panels import render_panel
from recovery.escalation.rules import DEFAULT_RULES
from recovery.models import BacktestRun, Escalation, EscalationRule, GradingSettings
from tests.factories import ComplaintFactory
from tickets.actors import ActorRef
from tickets.models import Complaint
from tickets.panels import registered_complaint_panels

pytestmark = pytest.mark.django_db
SHIPPED_RULES = len(DEFAULT_RULES)  # the rules a new install starts with

INBOX = "/escalations/"


def browser(request, who: str) -> Client:
    client = Client()
    if who != "anonymous":
        client.force_login(request.getfixturevalue(who))
    return client


def escalate(**fields) -> Escalation:
    complaint = ComplaintFactory(**fields)
    return services.complaint_assess(complaint_id=complaint.pk, trigger="logged").escalation


def ugly() -> Escalation:
    return escalate(says_wont_return=True)


def bad() -> Escalation:
    return escalate(severity=4)


def test_url_names():
    assert reverse("recovery:escalations") == "/escalations/"
    assert reverse("recovery:rules") == "/rules/"
    assert reverse("recovery:backtests") == "/rules/backtests/"
    assert reverse("recovery:grading_settings") == "/rules/grading/"


# --- inbox -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [("anonymous", 302), ("outsider", 403), ("agent", 403), ("lead", 200), ("senior", 200), ("executive", 200)],
)
def test_inbox_permission_matrix(request, who, expected):
    response = browser(request, who).get(INBOX)

    assert response.status_code == expected
    if expected == 302:
        assert response["Location"].startswith("/accounts/login/?next=/escalations/")


def test_inbox_shows_what_reached_my_tier(request):
    at_exec, at_lead = ugly(), bad()

    exec_page = browser(request, "executive").get(INBOX).content.decode()
    lead_page = browser(request, "lead").get(INBOX).content.decode()

    assert f'id="escalation-{at_exec.pk}"' in exec_page and f'id="escalation-{at_lead.pk}"' not in exec_page
    assert f'id="escalation-{at_lead.pk}"' in lead_page and f'id="escalation-{at_exec.pk}"' not in lead_page
    assert "left to acknowledge" in exec_page
    assert "Customer said they will not come back" not in exec_page  # reasons live on the complaint page
    assert "Ugly experience goes to an executive" in exec_page


def test_inbox_can_include_the_tiers_below(request):
    at_lead = bad()

    page = browser(request, "senior").get(INBOX + "?below=1").content.decode()

    assert f'id="escalation-{at_lead.pk}"' in page


def test_inbox_marks_overdue_acknowledgements(request):
    escalation = ugly()
    Escalation.objects.filter(pk=escalation.pk).update(ack_due_at=timezone.now() - timedelta(minutes=90))

    page = browser(request, "executive").get(INBOX).content.decode()

    assert "esc-item overdue" in page and "Overdue by 1 h 30 min" in page


def test_inbox_hides_escalations_of_resolved_complaints_from_waiting(request):
    escalation = ugly()
    Complaint.objects.filter(pk=escalation.complaint_id).update(status="resolved")

    page = browser(request, "executive").get(INBOX).content.decode()

    assert 'id="escalations-empty"' in page


def test_inbox_handled_tab_lists_what_was_handled(request, executive):
    escalation = ugly()
    services.escalation_acknowledge(escalation_id=escalation.pk, actor=ActorRef(user=executive), note="Called")

    waiting = browser(request, "executive").get(INBOX).content.decode()
    handled = browser(request, "executive").get(INBOX + "?show=handled").content.decode()

    assert f'id="escalation-{escalation.pk}"' not in waiting
    assert f'id="escalation-{escalation.pk}"' in handled and "Acknowledged by Erin Executive" in handled


def test_inbox_query_count_does_not_grow_with_rows(request, django_assert_max_num_queries):
    client = browser(request, "executive")
    ugly()
    with django_assert_max_num_queries(20) as few:
        client.get(INBOX)
    for _ in range(8):
        ugly()

    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(INBOX).content.decode()
    assert page.count('class="esc-item') == 9


def test_acknowledge_from_the_inbox(request, executive):
    escalation = ugly()

    response = browser(request, "executive").post(
        reverse("recovery:escalation_acknowledge", args=[escalation.pk]), {"next": "/escalations/?show=waiting"}, follow=True
    )

    escalation.refresh_from_db()
    assert (escalation.status, escalation.acknowledged_by) == ("acknowledged", executive)
    assert response.redirect_chain[-1][0] == "/escalations/?show=waiting"
    assert f"{escalation.complaint.reference}: acknowledged." in response.content.decode()


def test_acknowledge_from_below_the_tier_is_refused_with_a_message(request):
    escalation = ugly()

    response = browser(request, "lead").post(reverse("recovery:escalation_acknowledge", args=[escalation.pk]), follow=True)

    escalation.refresh_from_db()
    assert escalation.status == "open"
    assert "for the executive tier or above" in response.content.decode()


def test_agents_cannot_act_on_escalations(request):
    escalation = ugly()

    assert browser(request, "agent").post(reverse("recovery:escalation_acknowledge", args=[escalation.pk])).status_code == 403


def test_actions_need_post(request):
    escalation = ugly()

    assert browser(request, "executive").get(reverse("recovery:escalation_acknowledge", args=[escalation.pk])).status_code == 405


def test_the_next_parameter_cannot_leave_the_site(request):
    escalation = ugly()

    response = browser(request, "executive").post(
        reverse("recovery:escalation_acknowledge", args=[escalation.pk]), {"next": "//evil.example/"}
    )

    assert response["Location"] == "/escalations/"


def test_take_over_and_deescalate_from_the_inbox(request, executive):
    first, second = ugly(), ugly()
    client = browser(request, "executive")

    client.post(reverse("recovery:escalation_take_over", args=[first.pk]))
    refused = client.post(reverse("recovery:escalation_deescalate", args=[second.pk]), {"note": ""}, follow=True)
    client.post(reverse("recovery:escalation_deescalate", args=[second.pk]), {"note": "Handled by the team"})

    first.complaint.refresh_from_db()
    second.complaint.refresh_from_db()
    assert first.complaint.assignee == executive
    assert "Say why it does not need this tier." in refused.content.decode()
    assert second.complaint.tier == "frontline"


# --- rules -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected", "edit"),
    [("anonymous", 302, False), ("outsider", 403, False), ("agent", 200, False), ("lead", 200, False),
     ("senior", 200, True), ("executive", 200, True)],
)
def test_rules_page_permission_matrix(request, who, expected, edit):
    response = browser(request, who).get("/rules/")

    assert response.status_code == expected
    if expected == 200:
        page = response.content.decode()
        assert "Ugly experience goes to an executive" in page
        assert "When grade ugly: escalate to executive" in page
        assert ("/rules/new/" in page) is edit


@pytest.mark.parametrize("who", ["agent", "lead"])
def test_rule_editing_is_for_managers(request, who):
    client = browser(request, who)
    rule = EscalationRule.objects.first()

    assert client.get("/rules/new/").status_code == 403
    assert client.post(reverse("recovery:rule_toggle", args=[rule.pk])).status_code == 403
    assert client.post(reverse("recovery:rule_edit", args=[rule.pk]), {}).status_code == 403


def rule_form(**overrides) -> dict:
    data = {
        "name": "Severity 5 to a manager", "order": "15", "match": "all", "active": "on",
        "conditions": json.dumps([{"field": "severity", "operator": "eq", "value": 5}]),
        "actions": json.dumps([{"type": "escalate", "value": "manager"}]),
    }
    data.update(overrides)
    return data


def test_a_manager_creates_a_rule_in_the_browser(request, senior):
    response = browser(request, "senior").post("/rules/new/", rule_form())

    assert response.status_code == 302 and response["Location"] == "/rules/"
    rule = EscalationRule.objects.get(name="Severity 5 to a manager")
    assert (rule.order, rule.active, rule.updated_by) == (15, True, senior)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"conditions": '[{"field": "grade", }]'}, "The conditions is not valid JSON"),
        ({"conditions": json.dumps([{"field": "grdae", "operator": "eq", "value": "ugly"}])},
         "Condition 1, field: Unknown field &#x27;grdae&#x27;. Did you mean &#x27;grade&#x27;?"),
        ({"actions": json.dumps([{"type": "escalate", "value": "boss"}])}, "Action 1, value: Unknown tier"),
        ({"actions": "[]"}, "Add at least one action."),
    ],
)
def test_an_invalid_rule_is_refused_with_the_validators_message(request, overrides, message):
    response = browser(request, "senior").post("/rules/new/", rule_form(**overrides))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert EscalationRule.objects.count() == SHIPPED_RULES


def test_edit_toggle_move_and_delete_a_rule(request):
    client = browser(request, "senior")
    rule = EscalationRule.objects.get(order=20)

    assert client.get(f"/rules/{rule.pk}/").status_code == 200
    client.post(f"/rules/{rule.pk}/", rule_form(name="Bad to a lead, renamed", order="20"))
    client.post(reverse("recovery:rule_toggle", args=[rule.pk]))
    client.post(reverse("recovery:rule_move", args=[rule.pk]), {"direction": "up"})
    rule.refresh_from_db()
    assert (rule.name, rule.active, rule.order) == ("Bad to a lead, renamed", False, 10)

    assert "Delete rule" in client.get(reverse("recovery:rule_delete", args=[rule.pk])).content.decode()
    client.post(reverse("recovery:rule_delete", args=[rule.pk]))
    assert not EscalationRule.objects.filter(pk=rule.pk).exists()


def test_backtest_a_rule_edit_without_saving_it(request, django_capture_on_commit_callbacks):
    rule = EscalationRule.objects.get(order=20)
    client = browser(request, "senior")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/rules/{rule.pk}/", {**rule_form(name="Changed", order="20", active=""), "backtest": "1"})

    run = BacktestRun.objects.get()
    assert response["Location"] == f"/rules/backtests/{run.pk}/"
    rule.refresh_from_db()
    assert rule.name == "Bad experience goes to a team lead"  # nothing saved
    candidate = {r["id"]: r for r in run.candidate_rules}
    assert (candidate[rule.pk]["name"], candidate[rule.pk]["active"]) == ("Changed", True)
    assert run.status == "done"


# --- grading settings --------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "get", "post"), [("agent", 403, 403), ("lead", 200, 403), ("senior", 200, 302)])
def test_grading_settings_permission_matrix(request, who, get, post):
    client = browser(request, who)

    assert client.get("/rules/grading/").status_code == get
    assert client.post("/rules/grading/", {"config": '{"ugly_threshold": 65}'}).status_code == post


def test_grading_settings_refuse_invalid_values_with_messages(request):
    response = browser(request, "senior").post("/rules/grading/", {"config": '{"ugly_threshold": "high", "speed": 1}'})

    page = response.content.decode()
    assert "ugly_threshold: &#x27;ugly_threshold&#x27; must be a whole number" in page
    assert "Unknown setting &#x27;speed&#x27;" in page
    assert not GradingSettings.objects.exists()


def test_grading_settings_save_and_reset(request, senior):
    client = browser(request, "senior")

    client.post("/rules/grading/", {"config": '{"ugly_threshold": 65}'})
    assert GradingSettings.objects.get().config == {"ugly_threshold": 65}
    assert "&quot;ugly_threshold&quot;: 65" in client.get("/rules/grading/").content.decode()

    client.post("/rules/grading/", {"reset": "1"})
    assert GradingSettings.objects.get().config == {}


# --- backtests ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "expected"), [("agent", 403), ("lead", 403), ("senior", 200), ("executive", 200)])
def test_backtest_pages_are_for_managers(request, who, expected):
    assert browser(request, who).get("/rules/backtests/").status_code == expected


def test_backtest_runs_and_shows_the_comparison(request, django_capture_on_commit_callbacks):
    ComplaintFactory(says_wont_return=True)
    ComplaintFactory(severity=4)
    client = browser(request, "senior")
    page = client.get("/rules/backtests/").content.decode()
    assert "Ugly experience goes to an executive" in page  # prefilled with the current rules
    candidate = [{"name": "Everything to a manager", "conditions": [{"field": "severity", "operator": "gte", "value": 1}],
                  "actions": [{"type": "escalate", "value": "manager"}]}]

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/rules/backtests/", {"days": "7", "rules": json.dumps(candidate)})

    run = BacktestRun.objects.get()
    assert response["Location"] == f"/rules/backtests/{run.pk}/"
    detail = client.get(response["Location"]).content.decode()
    assert 'id="backtest-result"' in detail
    assert "2</strong> would end at a different tier" in detail
    assert 'hx-trigger="every 2s"' not in detail  # finished: no more polling (the header's notice count still refreshes)


def test_backtest_page_polls_while_running(request):
    run = BacktestRun.objects.create(days=7, candidate_rules=[], status="running", progress=40)
    client = browser(request, "senior")

    page = client.get(f"/rules/backtests/{run.pk}/").content.decode()
    partial = client.get(f"/rules/backtests/{run.pk}/", HTTP_HX_REQUEST="true").content.decode()

    assert 'hx-trigger="every 2s"' in page and 'value="40"' in page
    assert partial.lstrip().startswith('<div id="backtest-status"')


def test_a_failed_backtest_offers_to_run_it_again(request, django_capture_on_commit_callbacks):
    rules = [{"name": "All to a manager", "conditions": [{"field": "severity", "operator": "gte", "value": 1}],
              "actions": [{"type": "escalate", "value": "manager"}]}]
    failed = BacktestRun.objects.create(days=3, candidate_rules=rules, status="failed", error="The worker stopped")
    client = browser(request, "senior")
    assert f'action="/rules/backtests/{failed.pk}/again/"' in client.get(f"/rules/backtests/{failed.pk}/").content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/rules/backtests/{failed.pk}/again/")

    again = BacktestRun.objects.exclude(pk=failed.pk).get()
    assert response["Location"] == f"/rules/backtests/{again.pk}/"
    assert (again.status, again.days, again.candidate_rules[0]["name"]) == ("done", 3, "All to a manager")


@pytest.mark.parametrize(("who", "expected"), [("agent", 403), ("lead", 403)])
def test_only_managers_run_a_backtest_again(request, who, expected):
    run = BacktestRun.objects.create(days=3, candidate_rules=[], status="failed")
    assert browser(request, who).post(f"/rules/backtests/{run.pk}/again/").status_code == expected
    assert browser(request, "senior").get(f"/rules/backtests/{run.pk}/again/").status_code == 405
    assert BacktestRun.objects.count() == 1


def test_a_backtest_no_worker_picked_up_says_so(request):
    run = BacktestRun.objects.create(days=7, candidate_rules=[])
    client = browser(request, "senior")
    assert "No worker has picked this backtest up" not in client.get(f"/rules/backtests/{run.pk}/").content.decode()

    BacktestRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(minutes=10))
    page = client.get(f"/rules/backtests/{run.pk}/").content.decode()

    assert "No worker has picked this backtest up" in page and 'hx-trigger="every 2s"' in page


def test_backtest_form_refuses_invalid_candidate_rules(request):
    response = browser(request, "senior").post(
        "/rules/backtests/", {"days": "7", "rules": json.dumps([{"name": "x", "conditions": [], "actions": []}])}
    )

    assert "Rule 1 (“x”), conditions: Add at least one condition." in response.content.decode()
    assert not BacktestRun.objects.exists()


def test_unknown_backtest_is_404(request):
    assert browser(request, "senior").get("/rules/backtests/999/").status_code == 404


# --- the complaint page panel ------------------------------------------------------------------


def _panel(user, complaint) -> str:
    request = RequestFactory().get(f"/complaints/{complaint.reference}/")
    request.user = user
    return render_panel(request, complaint) or ""


def test_the_why_escalated_panel_is_registered():
    assert "why_escalated" in [p.key for p in registered_complaint_panels()]


def test_the_panel_explains_the_grade_and_the_rules(executive):
    escalation = ugly()

    html = _panel(executive, escalation.complaint)

    assert "Why escalated" in html
    assert "Customer said they will not come back" in html and "(makes it ugly)" in html
    assert "✓ grade is ugly (needs ugly)" in html
    assert f"1 of {SHIPPED_RULES} matched" in html
    assert "Escalated from frontline agent to executive" in html
    assert reverse("recovery:escalation_acknowledge", args=[escalation.pk]) in html


def test_the_panel_offers_actions_only_to_those_who_may_act(agent, lead):
    escalation = ugly()

    assert "Acknowledge</button>" not in _panel(lead, escalation.complaint)
    assert "Acknowledge</button>" not in _panel(agent, escalation.complaint)
    assert "Why escalated" in _panel(agent, escalation.complaint)


def test_the_panel_before_the_first_assessment(agent):
    assert "Not graded yet" in _panel(agent, ComplaintFactory())


def test_the_panel_query_count(executive, django_assert_max_num_queries):
    escalation = ugly()

    with django_assert_max_num_queries(4):
        _panel(executive, escalation.complaint)


# --- admin -------------------------------------------------------------------------------------


@pytest.fixture
def admin_client_for_rules(db):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_superuser("root", "root@example.com", "pass-word-123")
    client = Client()
    client.force_login(user)
    return client, user


def test_admin_refuses_an_invalid_rule_and_saves_a_valid_one_through_the_service(admin_client_for_rules):
    client, user = admin_client_for_rules
    form = {"name": "Admin rule", "order": "50", "active": "on", "match": "all",
            "conditions": '[{"field": "severity", "operator": "eq", "value": "5"}]',
            "actions": '[{"type": "escalate", "value": "manager"}]'}

    refused = client.post("/admin/recovery/escalationrule/add/", form)
    form["conditions"] = '[{"field": "severity", "operator": "eq", "value": 5}]'
    saved = client.post("/admin/recovery/escalationrule/add/", form)

    assert refused.status_code == 200 and "must be a whole number" in refused.content.decode()
    assert saved.status_code == 302
    assert EscalationRule.objects.get(name="Admin rule").updated_by == user
    assert client.get("/admin/recovery/escalationrule/").status_code == 200


def test_admin_grading_settings_are_validated(admin_client_for_rules):
    client, _ = admin_client_for_rules

    refused = client.post("/admin/recovery/gradingsettings/add/", {"config": '{"ugly_threshold": 5}'})
    saved = client.post("/admin/recovery/gradingsettings/add/", {"config": '{"ugly_threshold": 65}'})

    assert refused.status_code == 200 and "Thresholds must rise" in refused.content.decode()
    assert saved.status_code == 302 and GradingSettings.objects.get().config == {"ugly_threshold": 65}


def test_admin_lists_assessments_and_escalations_read_only(admin_client_for_rules):
    client, _ = admin_client_for_rules
    escalation = ugly()

    assert client.get("/admin/recovery/escalation/").status_code == 200
    assert client.get("/admin/recovery/assessment/").status_code == 200
    assert client.get(f"/admin/recovery/escalation/{escalation.pk}/change/").status_code == 200
    assert client.get("/admin/recovery/escalation/add/").status_code == 403


# --- accessibility of the scrolling tables (axe: scrollable-region-focusable, empty-table-header) --------------


def test_rule_pages_scrolling_tables_are_focusable_labelled_regions(request):
    rule = EscalationRule.objects.order_by("pk").first()
    client = browser(request, "senior")

    for url in ("/rules/", f"/rules/{rule.pk}/", "/rules/backtests/"):
        html = client.get(url).content.decode()
        assert 'class="table-wrap">' not in html, url
    assert 'aria-label="Fields a rule can test"' in client.get(f"/rules/{rule.pk}/").content.decode()


def test_backtest_result_has_no_empty_header_cell(request, django_capture_on_commit_callbacks):
    ComplaintFactory(severity=4)
    client = browser(request, "senior")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/rules/backtests/", {"days": "7", "rules": json.dumps([])})

    detail = client.get(response["Location"]).content.decode()

    assert 'id="backtest-result"' in detail
    assert "<th></th>" not in detail and 'role="region" aria-label="Backtest result by day and tier"' in detail


# --- bulk acknowledge, escalation shares, backtest drafts ---------------------------------------


def test_bulk_acknowledge_acknowledges_the_ticked_and_reports_each_refusal(request, senior):
    # given two escalations a manager may acknowledge and one at the executive tier, above the manager
    mine = [bad(), bad()]
    Escalation.objects.filter(pk__in=[e.pk for e in mine]).update(tier="manager")
    above = ugly()
    client = browser(request, "senior")
    page = client.get(INBOX).content.decode()
    assert 'id="bulk-ack"' in page and 'form="bulk-ack"' in page

    # when
    response = client.post(
        reverse("recovery:escalation_acknowledge_bulk"),
        {"escalation": [mine[0].pk, mine[1].pk, above.pk], "note": "On it", "next": INBOX},
        follow=True,
    )

    # then the two are acknowledged with the note, the executive one stays open and its refusal is shown
    html = response.content.decode()
    assert [Escalation.objects.get(pk=e.pk).status for e in mine] == ["acknowledged", "acknowledged"]
    assert Escalation.objects.get(pk=mine[0].pk).note == "On it"
    assert Escalation.objects.get(pk=above.pk).status == "open"
    assert "Acknowledged 2:" in html and f"Not acknowledged #{above.pk}:" in html


def test_bulk_acknowledge_refuses_malformed_and_unauthorised_requests(request):
    escalation = ugly()
    url = reverse("recovery:escalation_acknowledge_bulk")

    assert browser(request, "agent").post(url, {"escalation": [escalation.pk]}).status_code == 403
    assert browser(request, "executive").post(url, {"escalation": ["x"]}).status_code == 400
    assert browser(request, "executive").get(url).status_code == 405
    nothing = browser(request, "executive").post(url, {}, follow=True).content.decode()
    assert "Tick at least one escalation" in nothing
    assert Escalation.objects.get(pk=escalation.pk).status == "open"


def test_rules_page_shows_each_rules_share_and_warns_when_executives_get_too_many(request, settings):
    settings.ESCALATION_EXECUTIVE_SHARE_WARNING = 0.10
    ugly()  # one of two complaints to an executive: 50%
    ComplaintFactory(severity=1)
    client = browser(request, "agent")

    html = client.get("/rules/").content.decode()

    rule = Escalation.objects.get(tier="executive").rule
    assert f'id="rule-{rule.pk}"' in html
    row = html[html.index(f'id="rule-{rule.pk}"'):]
    assert '<td class="num" data-share="1">1 <span class="muted small">(50%)</span>' in row[: row.index("</tr>")]
    assert 'id="executive-share-warning"' in html and "50% of complaints to an executive" in html

    settings.ESCALATION_EXECUTIVE_SHARE_WARNING = 0.6
    assert 'id="executive-share-warning"' not in client.get("/rules/").content.decode()


def test_backtest_shows_frontline_shares_per_rule_and_the_executive_warning(request, django_capture_on_commit_callbacks, settings):
    settings.ESCALATION_EXECUTIVE_SHARE_WARNING = 0.10
    ComplaintFactory(says_wont_return=True)
    ComplaintFactory(severity=1)
    client = browser(request, "senior")
    candidate = [{"name": "Everything to an executive", "conditions": [{"field": "severity", "operator": "gte", "value": 1}],
                  "actions": [{"type": "escalate", "value": "executive"}]}]

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/rules/backtests/", {"days": "7", "rules": json.dumps(candidate)})
    detail = client.get(response["Location"]).content.decode()

    run = BacktestRun.objects.get()
    assert run.result["totals"]["current"]["frontline"] == 1  # the mild one stays at the front line today
    assert run.result["totals"]["candidate"]["frontline"] == 0
    assert '<th class="num">Frontline agent</th>' in detail
    assert 'id="backtest-rules"' in detail and "<td>Everything to an executive</td><td class=\"num\">2</td><td class=\"num\">100%</td>" in detail
    assert "would take 100% of these complaints to an executive (the current rules: 50%)" in detail


def test_backtesting_a_rule_edit_keeps_the_edit_to_come_back_to(request, django_capture_on_commit_callbacks):
    rule = EscalationRule.objects.get(order=20)
    client = browser(request, "senior")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/rules/{rule.pk}/", {**rule_form(name="Changed name", order="20", active=""), "backtest": "1"})
    run = BacktestRun.objects.get()
    detail = client.get(response["Location"]).content.decode()

    assert f'href="/rules/{rule.pk}/?draft={run.pk}" id="back-to-draft"' in detail
    page = client.get(f"/rules/{rule.pk}/?draft={run.pk}").content.decode()
    assert 'value="Changed name"' in page and "Your unsaved edit" in page
    rule.refresh_from_db()
    assert rule.name == "Bad experience goes to a team lead"
    # another person's session (or an unknown draft) gets the saved rule
    other = browser(request, "executive").get(f"/rules/{rule.pk}/?draft={run.pk}").content.decode()
    assert 'value="Changed name"' not in other


def test_the_inbox_and_the_panel_share_one_deescalate_form_each_with_its_own_field_id(request, executive):
    escalation = ugly()
    action = reverse("recovery:escalation_deescalate", args=[escalation.pk])

    inbox = browser(request, "executive").get(INBOX).content.decode()
    panel = _panel(executive, escalation.complaint)

    for html, note_id in ((inbox, f"note-{escalation.pk}"), (panel, "panel-note")):
        assert f'action="{action}"' in html
        assert f'<label for="{note_id}">Why does it not need the executive tier?</label>' in html
        assert f'<textarea id="{note_id}" name="note" rows="2" required></textarea>' in html
        assert "Back to frontline agent</button>" in html
