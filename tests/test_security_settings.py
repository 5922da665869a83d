"""Security settings: `check --deploy` is clean with the production values, every page carries the
Content-Security-Policy, and no template holds what that policy would block."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DIRS = [ROOT / "cxrecovery" / "templates", ROOT / "tickets", ROOT / "recovery", ROOT / "notifications"]

# The production values of docs/operations.md ("HTTPS and security headers") and .env.example.
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "k" * 20 + "-production-secret-for-the-check-" + "q" * 20,
    "ALLOWED_HOSTS": "cx.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://cx.example.com",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "SESSION_COOKIE_SECURE": "true",
    "CSRF_COOKIE_SECURE": "true",
}
# Set by the CI, a developer's shell or other tests (the browser tests allow async-unsafe calls for their session);
# the check must run with only the values above.
_OURS = set(PRODUCTION) | {
    "DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "CSP_REPORT_ONLY", "LOGIN_LOCKOUT_ENABLED",
    "DJANGO_ALLOW_ASYNC_UNSAFE", "DJANGO_SETTINGS_MODULE",
}


def run_deploy_check(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in _OURS}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT, env=clean, capture_output=True, text=True, timeout=300,
    )


def issue_ids(result: subprocess.CompletedProcess) -> set[str]:
    return set(re.findall(r"\(([a-z_]+\.[A-Z]\d+)\)", result.stdout + result.stderr))


def test_deploy_check_with_the_production_values_reports_no_security_warning():
    result = run_deploy_check(**PRODUCTION)

    assert result.returncode == 0, result.stderr
    # drf_spectacular.* are the API schema's naming notes (not deployment settings); everything else must be clean.
    assert {i for i in issue_ids(result) if not i.startswith("drf_spectacular.")} == set(), result.stdout + result.stderr


def test_deploy_check_still_warns_when_production_switches_hsts_off():
    result = run_deploy_check(**{**PRODUCTION, "SECURE_HSTS_SECONDS": "0", "SECURE_SSL_REDIRECT": "false"})

    assert {"security.W004", "security.W008"} <= issue_ids(result)


def test_settings_refuse_a_malformed_proxy_ssl_header():
    result = run_deploy_check(**{**PRODUCTION, "SECURE_PROXY_SSL_HEADER": "https"})

    assert result.returncode != 0
    assert "X-Forwarded-Proto: https" in result.stderr


def test_settings_refuse_a_failure_limit_that_is_not_a_number():
    result = run_deploy_check(**{**PRODUCTION, "LOGIN_FAILURE_LIMIT": "five"})

    assert result.returncode != 0
    assert "LOGIN_FAILURE_LIMIT must be a whole number" in result.stderr


@pytest.mark.django_db
def test_every_page_carries_the_content_security_policy(client, agent):
    client.force_login(agent)

    for url in ["/accounts/login/", "/", "/api/v1/schema/"]:
        policy = client.get(url)["Content-Security-Policy"]
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
        assert directives["default-src"] == "'self'"
        assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
        assert "unsafe" not in policy


@pytest.mark.django_db
def test_swagger_ui_runs_under_the_strict_policy(client, agent):
    client.force_login(agent)

    swagger = client.get("/api/v1/docs/")
    assert swagger.status_code == 200
    assert "unsafe" not in swagger["Content-Security-Policy"]
    assert "<script>" not in swagger.content.decode()  # the settings come from ?script, not inline
    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")


@pytest.mark.django_db
def test_the_browsable_api_relaxes_only_styles_and_json_stays_strict(client, agent):
    client.force_login(agent)

    page = client.get("/api/v1/complaints/", HTTP_ACCEPT="text/html")
    json = client.get("/api/v1/complaints/", HTTP_ACCEPT="application/json")

    assert "style-src 'self' 'unsafe-inline'" in page["Content-Security-Policy"]
    assert "script-src 'self';" in page["Content-Security-Policy"] + ";"
    assert "unsafe" not in json["Content-Security-Policy"]


# What a strict policy blocks: inline <script> with code (a src= or type="application/json" one is fine),
# <style> elements, style="" attributes and on*="" handlers.
INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I), "inline <script>"),
    (re.compile(r"<style[\s>]", re.I), "<style> element"),
    (re.compile(r"\sstyle\s*=", re.I), "style=\"\" attribute"),
    (re.compile(r"\son[a-z]+\s*=\s*[\"']", re.I), "on*=\"\" handler"),
    (re.compile(r"hx-on[:-]", re.I), "hx-on handler (needs eval)"),
    (re.compile(r"hx-trigger=\"[^\"]*\[", re.I), "htmx trigger filter (needs eval)"),
]


def test_no_template_holds_inline_script_style_or_handlers():
    found = []
    for base in TEMPLATE_DIRS:
        for path in base.rglob("*.html"):
            if ".venv" in path.parts:
                continue
            text = path.read_text()
            for pattern, what in INLINE:
                for match in pattern.finditer(text):
                    line = text.count("\n", 0, match.start()) + 1
                    found.append(f"{path.relative_to(ROOT)}:{line}: {what}")

    assert found == []
