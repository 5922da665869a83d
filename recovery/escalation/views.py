"""Browser pages of escalation: the inbox for senior staff, rule editing, grading settings and backtests.

Thin: each view checks the role, then calls a selector or one service. Leads, managers and executives
use the inbox; everyone with a role may read the rules; managers and executives change them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from recovery import formatting
from recovery.escalation import selectors, services
from recovery.escalation.forms import BacktestForm, GradingSettingsForm, NoteForm, RuleForm, pretty, rule_form_help
from recovery.escalation.grading import GradingConfig
from recovery.models import EscalationRule
from tickets.actors import ActorRef
from tickets.errors import DomainError
from tickets.models import Role, Tier
from tickets.permissions import role_at_least, role_required, user_tier

# A person works an inbox from the top (soonest due first); the page shows what they can act on, and the count says
# how many wait in all. 50 rows keep the page well under 150 ms to render at any size of the backlog.
INBOX_LIMIT = 50


def _can_edit_rules(request: HttpRequest) -> bool:
    return role_at_least(request.user, Role.MANAGER)


def _render(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    nav = {"nav_lead": role_at_least(request.user, Role.LEAD), "nav_manager": _can_edit_rules(request)}
    return render(request, template, {**nav, **context}, status=status)


# --- inbox -------------------------------------------------------------------------------------


@role_required(Role.LEAD)
def inbox(request: HttpRequest) -> HttpResponse:
    """What reached my tier (optionally the tiers below too): waiting first, soonest due first; or handled."""
    tier = user_tier(request.user)
    show = "handled" if request.GET.get("show") == "handled" else "waiting"
    below = request.GET.get("below") == "1"
    now = timezone.now()
    rows = list(
        selectors.escalation_inbox(selectors.InboxView(tier=tier, show=show, below=below), now=now)[: INBOX_LIMIT + 1]
    )
    more = len(rows) > INBOX_LIMIT
    rows = rows[:INBOX_LIMIT]
    for escalation in rows:
        due = escalation.ack_due_at
        escalation.overdue = bool(due and due <= now and escalation.status == "open")
        escalation.time_left = formatting.duration(abs((due - now).total_seconds())) if due else ""
    return _render(
        request,
        "recovery/escalation_inbox.html",
        {
            "rows": rows,
            "more": more,
            "show": show,
            "below": below,
            "tier": tier,
            "tier_label": Tier(tier).label,
            "waiting_count": selectors.escalation_waiting_count(tier=tier),
            "note_form": NoteForm(),
        },
    )


def _inbox_back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next") or ""
    if not target.startswith("/") or target.startswith("//"):
        target = reverse("recovery:escalations")
    return redirect(target)


def _escalation_action(service: Callable, done: str) -> Callable:
    @role_required(Role.LEAD)
    @require_POST
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        note = request.POST.get("note", "")[:2000]
        try:
            escalation = service(escalation_id=pk, actor=ActorRef.from_request(request), note=note)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"{escalation.complaint.reference}: {done}.")
        return _inbox_back(request)

    return view


acknowledge = _escalation_action(services.escalation_acknowledge, "acknowledged")

BULK_LIMIT = 200


@role_required(Role.LEAD)
@require_POST
def acknowledge_bulk(request: HttpRequest) -> HttpResponse:
    """Acknowledge every ticked escalation, each through the same service (and its tier check) as the single
    button; what was refused is reported one line each, and the others still go through."""
    try:
        ids = sorted({int(value) for value in request.POST.getlist("escalation")})
    except ValueError:
        return HttpResponse("Each escalation must be given by its number.", status=400, content_type="text/plain")
    if not ids:
        messages.error(request, "Tick at least one escalation to acknowledge.")
        return _inbox_back(request)
    if len(ids) > BULK_LIMIT:
        return HttpResponse(f"At most {BULK_LIMIT} escalations at once.", status=400, content_type="text/plain")
    note = request.POST.get("note", "")[:2000]
    actor = ActorRef.from_request(request)
    done, refused = [], []
    for pk in ids:
        try:
            escalation = services.escalation_acknowledge(escalation_id=pk, actor=actor, note=note)
        except DomainError as exc:
            refused.append(f"#{pk}: {exc.message}")
        else:
            done.append(escalation.complaint.reference)
    if done:
        messages.success(request, f"Acknowledged {len(done)}: {', '.join(done)}.")
    for line in refused:
        messages.error(request, f"Not acknowledged {line}")
    return _inbox_back(request)


take_over = _escalation_action(services.escalation_take_over, "taken over and assigned to you")
deescalate = _escalation_action(services.escalation_deescalate, "de-escalated")


# --- rules -------------------------------------------------------------------------------------


@role_required(Role.AGENT)
def rules(request: HttpRequest) -> HttpResponse:
    rows = list(selectors.rule_list())
    shares = selectors.escalation_shares(now=timezone.now())
    for rule in rows:
        rule.summary = selectors.rule_summary(rule)
        rule.escalated = shares.by_rule.get(rule.pk, 0)
        rule.share = shares.share(rule.escalated)
    return _render(
        request,
        "recovery/escalation_rules.html",
        {"rules": rows, "can_edit": _can_edit_rules(request), "shares": shares, **_executive_warning(shares.executive, shares.complaints)},
    )


def _executive_warning(executive: int, complaints: int) -> dict[str, Any]:
    """The share of complaints taken to an executive, and whether it is over ESCALATION_EXECUTIVE_SHARE_WARNING."""
    limit = settings.ESCALATION_EXECUTIVE_SHARE_WARNING
    share = executive / complaints if complaints else None
    return {"executive_share": share, "executive_limit": limit, "executive_too_many": share is not None and share > limit}


def _rule_page(request: HttpRequest, form: RuleForm, rule: EscalationRule | None) -> HttpResponse:
    return _render(request, "recovery/escalation_rule_form.html", {"form": form, "rule": rule, **rule_form_help()})


def _backtest_with(form: RuleForm, rule: EscalationRule | None, request: HttpRequest) -> HttpResponse:
    """Replay the current rules against the current rules with this one (as edited, and active) in place."""
    candidate = []
    edited = {**form.spec_data, "active": True}
    for spec in selectors.rule_specs(active_only=False):
        candidate.append(edited if rule is not None and spec.id == rule.pk else spec.to_dict())
    if rule is None:
        candidate.append(edited)
    run = services.backtest_start(days=30, candidate_rules=candidate, actor=ActorRef.from_request(request))
    # The edit is not saved; keep it in the session so the backtest page can lead back to it unchanged.
    drafts = request.session.get(DRAFTS_KEY, {})
    drafts[str(run.pk)] = {"rule": rule.pk if rule is not None else None, "data": form.spec_data}
    request.session[DRAFTS_KEY] = dict(list(drafts.items())[-10:])
    return redirect("recovery:backtest_detail", pk=run.pk)


DRAFTS_KEY = "rule_drafts"


def _draft(request: HttpRequest, rule: EscalationRule | None) -> dict[str, Any] | None:
    """The unsaved edit a backtest was run with (?draft=<run id>), if it belongs to this rule (or a new one)."""
    draft = request.session.get(DRAFTS_KEY, {}).get(request.GET.get("draft", ""))
    if draft is None or draft["rule"] != (rule.pk if rule is not None else None):
        return None
    return draft["data"]


def _draft_link(request: HttpRequest, run_id: int) -> str | None:
    draft = request.session.get(DRAFTS_KEY, {}).get(str(run_id))
    if draft is None:
        return None
    base = reverse("recovery:rule_edit", args=[draft["rule"]]) if draft["rule"] else reverse("recovery:rule_create")
    return f"{base}?draft={run_id}"


@role_required(Role.MANAGER)
def rule_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = RuleForm(request.POST)
        if form.is_valid():
            if "backtest" in request.POST:
                return _backtest_with(form, None, request)
            rule = services.rule_create(data=form.rule_data(), actor=ActorRef.from_request(request))
            messages.success(request, f"Rule “{rule.name}” saved. Open complaints are being re-assessed.")
            return redirect("recovery:rules")
    elif (draft := _draft(request, None)) is not None:
        form = RuleForm(initial=RuleForm.initial_from(draft))
    else:
        last = EscalationRule.objects.order_by("-order").values_list("order", flat=True).first() or 0
        form = RuleForm(
            initial=RuleForm.initial_from(
                {
                    "order": last + 10,
                    "active": False,
                    "match": "all",
                    "conditions": [{"field": "grade", "operator": "eq", "value": "ugly"}],
                    "actions": [{"type": "escalate", "value": "manager"}],
                }
            )
        )
    return _rule_page(request, form, None)


@role_required(Role.MANAGER)
def rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(EscalationRule, pk=pk)
    if request.method == "POST":
        form = RuleForm(request.POST, rule_id=rule.pk)
        if form.is_valid():
            if "backtest" in request.POST:
                return _backtest_with(form, rule, request)
            services.rule_update(rule=rule, changes=form.rule_data(), actor=ActorRef.from_request(request))
            messages.success(
                request, f"Rule “{form.cleaned_data['name']}” saved. Open complaints are being re-assessed."
            )
            return redirect("recovery:rules")
    else:
        draft = _draft(request, rule)
        form = RuleForm(initial=RuleForm.initial_from(draft or selectors.rule_as_dict(rule)), rule_id=rule.pk)
        if draft is not None:
            messages.info(request, "Your unsaved edit, as it was backtested. Save it to apply it.")
    return _rule_page(request, form, rule)


@role_required(Role.MANAGER)
@require_POST
def rule_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(EscalationRule, pk=pk)
    try:
        services.rule_update(rule=rule, changes={"active": not rule.active}, actor=ActorRef.from_request(request))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Rule “{rule.name}” {'deactivated' if rule.active else 'activated'}.")
    return redirect("recovery:rules")


@role_required(Role.MANAGER)
@require_POST
def rule_move(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(EscalationRule, pk=pk)
    try:
        services.rule_move(rule=rule, direction=request.POST.get("direction", ""), actor=ActorRef.from_request(request))
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("recovery:rules")


@role_required(Role.MANAGER)
def rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(EscalationRule, pk=pk)
    if request.method == "POST":
        services.rule_delete(rule=rule, actor=ActorRef.from_request(request))
        messages.success(request, f"Rule “{rule.name}” deleted.")
        return redirect("recovery:rules")
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET", "POST"])
    return _render(request, "recovery/escalation_rule_delete.html", {"rule": rule, "summary": selectors.rule_summary(rule)})


# --- grading settings --------------------------------------------------------------------------


@role_required(Role.LEAD)
def grading_settings(request: HttpRequest) -> HttpResponse:
    can_edit = _can_edit_rules(request)
    row = selectors.grading_settings_row()
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Changing the grading settings needs the manager role or higher.")
        if "reset" in request.POST:
            services.grading_settings_update(config={}, actor=ActorRef.from_request(request))
            messages.success(request, "Grading settings reset to the defaults.")
            return redirect("recovery:grading_settings")
        form = GradingSettingsForm(request.POST)
        if form.is_valid():
            services.grading_settings_update(
                config=form.cleaned_data["config_data"], actor=ActorRef.from_request(request)
            )
            messages.success(request, "Grading settings saved. Open complaints are being re-graded.")
            return redirect("recovery:grading_settings")
    else:
        form = GradingSettingsForm(initial={"config": pretty(selectors.grading_config().to_dict())})
    return _render(
        request,
        "recovery/escalation_grading.html",
        {
            "form": form,
            "row": row,
            "can_edit": can_edit,
            "defaults": pretty(GradingConfig().to_dict()),
            "doc": GradingConfig.__doc__,
        },
    )


# --- backtests ---------------------------------------------------------------------------------


@role_required(Role.MANAGER)
def backtests(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = BacktestForm(request.POST)
        if form.is_valid():
            try:
                run = services.backtest_start(
                    days=form.cleaned_data["days"],
                    candidate_rules=form.cleaned_data["rules_data"],
                    actor=ActorRef.from_request(request),
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                return redirect("recovery:backtest_detail", pk=run.pk)
    else:
        current = [spec.to_dict() for spec in selectors.rule_specs(active_only=False)]
        form = BacktestForm(initial={"days": 30, "rules": pretty(current)})
    runs = selectors.backtest_list()[:20]
    return _render(request, "recovery/escalation_backtests.html", {"form": form, "runs": runs})


@role_required(Role.MANAGER)
def backtest_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = selectors.backtest_get(run_id=pk)
    if run is None:
        return _render(request, "recovery/escalation_backtest.html", {"run": None}, status=404)
    finished = run.status in ("done", "failed")
    context: dict[str, Any] = {
        "run": run,
        "finished": finished,
        "waiting_long": selectors.backtest_waiting_for_worker(run, now=timezone.now()),
        "candidate_json": pretty(run.candidate_rules),
        "draft_link": _draft_link(request, run.pk),
    }
    if run.status == "done":
        context.update(_backtest_table(run.result))
    template = (
        "recovery/_escalation_backtest_status.html"
        if request.headers.get("HX-Request")
        else "recovery/escalation_backtest.html"
    )
    return _render(request, template, context)


@role_required(Role.MANAGER)
@require_POST
def backtest_again(request: HttpRequest, pk: int) -> HttpResponse:
    """Run a finished or failed backtest again, as of now: a new run with the same days and candidate rules."""
    run = selectors.backtest_get(run_id=pk)
    if run is None:
        return _render(request, "recovery/escalation_backtest.html", {"run": None}, status=404)
    again = services.backtest_again(run=run, actor=ActorRef.from_request(request))
    return redirect("recovery:backtest_detail", pk=again.pk)


def _backtest_table(result: dict[str, Any]) -> dict[str, Any]:
    tiers = result.get("tiers", [])
    rows = []
    for day in result.get("days", []):
        current = [day["current"].get(t, 0) for t in tiers]
        candidate = [day["candidate"].get(t, 0) for t in tiers]
        rows.append(
            {"date": day["date"], "current": current, "candidate": candidate, "delta": sum(candidate) - sum(current)}
        )
    totals = result.get("totals", {})
    complaints = result.get("complaints", 0)
    by_rule = [
        {**r, "share": r["complaints"] / complaints if complaints else None} for r in result.get("candidate_by_rule", [])
    ]
    executive = {label: totals.get(label, {}).get("executive", 0) for label in ("current", "candidate")}
    warning = _executive_warning(executive["candidate"], complaints)
    return {
        **warning,
        "by_rule": by_rule,
        "executive_current_share": executive["current"] / complaints if complaints else None,
        "tiers": [Tier(t).label for t in tiers],
        "rows": rows,
        "total_current": [totals.get("current", {}).get(t, 0) for t in tiers],
        "total_candidate": [totals.get("candidate", {}).get(t, 0) for t in tiers],
        "peak": max([max(r["current"] + r["candidate"] + [0]) for r in rows] + [1]),
    }


urlpatterns = [
    path("escalations/", inbox, name="escalations"),
    path("escalations/<int:pk>/acknowledge/", acknowledge, name="escalation_acknowledge"),
    path("escalations/acknowledge/", acknowledge_bulk, name="escalation_acknowledge_bulk"),
    path("escalations/<int:pk>/take-over/", take_over, name="escalation_take_over"),
    path("escalations/<int:pk>/deescalate/", deescalate, name="escalation_deescalate"),
    path("rules/", rules, name="rules"),
    path("rules/new/", rule_create, name="rule_create"),
    path("rules/<int:pk>/", rule_edit, name="rule_edit"),
    path("rules/<int:pk>/toggle/", rule_toggle, name="rule_toggle"),
    path("rules/<int:pk>/move/", rule_move, name="rule_move"),
    path("rules/<int:pk>/delete/", rule_delete, name="rule_delete"),
    path("rules/grading/", grading_settings, name="grading_settings"),
    path("rules/backtests/", backtests, name="backtests"),
    path("rules/backtests/<int:pk>/", backtest_detail, name="backtest_detail"),
    path("rules/backtests/<int:pk>/again/", backtest_again, name="backtest_again"),
]
