"""A client generated from the live schema by openapi-python-client, used exactly as generated.

If the schema declared a body the API does not take (form or multipart), an array where the API answers an
object, or a 201 where it answers a page, the generated code fails to send or to parse — so this is the
integrator's view of the contract."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tickets.apikeys import api_key_create
from tickets.models import ApiKey

PACKAGE = "cxr_generated_client"


@pytest.fixture
def generated(live_server, tmp_path):
    """Generate the client into a temp dir from the schema the running server serves, and import it."""
    schema = httpx.get(f"{live_server.url}/api/v1/schema/?format=json", timeout=30)
    assert schema.status_code == 200
    (tmp_path / "schema.json").write_bytes(schema.content)
    bin_dir = Path(sys.executable).parent
    generator = shutil.which("openapi-python-client", path=str(bin_dir)) or shutil.which("openapi-python-client")
    assert generator, "openapi-python-client is not installed (requirements.txt)"
    result = subprocess.run(
        [generator, "generate", "--path", "schema.json", "--output-path", PACKAGE, "--meta", "none"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin"},  # its ruff post-hook is the one in the virtualenv
    )
    assert (tmp_path / PACKAGE / "client.py").exists(), result.stdout + result.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        yield lambda name: importlib.import_module(f"{PACKAGE}.{name}")
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


@pytest.fixture
def client(generated, live_server, executive):
    key = api_key_create(name="generated client", scopes=list(ApiKey.Scope.values), user=executive)
    return generated("client").AuthenticatedClient(base_url=live_server.url, token=key.secret, raise_on_unexpected_status=True)


def test_generated_client_logs_reads_updates_and_comments_on_a_complaint(generated, client):
    api = lambda name: generated(f"api.complaints.{name}")  # noqa: E731
    models = generated("models")

    # log
    body = models.ComplaintCreateInputRequest(
        customer=models.CustomerInputRequest(email="priya@example.com", name="Priya Raman"),
        cause=models.CauseEnum.STAFF_CONDUCT,
        subject="Agent was rude on the phone",
        severity=5,
        says_wont_return=True,
    )
    created = api("complaints_create").sync_detailed(client=client, body=body)
    assert created.status_code == 201
    complaint = created.parsed
    assert isinstance(complaint, models.ComplaintOutput)
    reference = complaint.reference

    # list (a cursor page of complaints) and read
    page = api("complaints_list").sync(client=client, page_size=10)
    assert isinstance(page, models.PaginatedComplaintOutputList)
    assert [c.reference for c in page.results] == [reference]
    read = api("complaints_retrieve").sync(reference, client=client)
    assert read.subject == "Agent was rude on the phone"

    # patch
    patched = api("complaints_partial_update").sync(
        reference, client=client, body=models.PatchedComplaintUpdateInputRequest(severity=4, status=models.ComplaintStatusEnum.IN_PROGRESS)
    )
    assert (patched.severity, patched.status) == (4, models.ComplaintStatusEnum.IN_PROGRESS)

    # comment, then the comments page
    comment = api("complaints_comments_create").sync(
        reference, client=client, body=models.CommentInputRequest(body="Called the customer back.")
    )
    assert isinstance(comment, models.CommentOutput)
    comments = api("complaints_comments_list").sync(reference, client=client)
    assert isinstance(comments, models.PaginatedCommentOutputList)
    assert [c.body for c in comments.results] == ["Called the customer back."]

    # what recovery made of it: the assessment and the suggestions are objects
    assessment = api("complaints_assessment_retrieve").sync(reference, client=client)
    assert isinstance(assessment, models.AssessmentOutput)
    assert assessment.grade == "ugly"  # says they won't return
    suggestions = api("complaints_suggestions_retrieve").sync(reference, client=client)
    assert isinstance(suggestions, models.ComplaintSuggestions)
    assert suggestions.reference == reference and suggestions.suggestions

    # resolving it starts the watch for the customer's return: the outcome
    api("complaints_partial_update").sync(
        reference, client=client, body=models.PatchedComplaintUpdateInputRequest(status=models.ComplaintStatusEnum.RESOLVED)
    )
    outcome = api("complaints_outcome_retrieve").sync(reference, client=client)
    assert isinstance(outcome, models.OutcomeOutput)
    assert outcome.complaint == reference and outcome.windows


def test_generated_client_parses_the_error_component(generated, client):
    api = generated("api.complaints.complaints_retrieve")
    models = generated("models")

    client.raise_on_unexpected_status = False
    missing = api.sync_detailed("CX-999999", client=client)

    assert missing.status_code == 404
    assert isinstance(missing.parsed, models.Error)
    assert missing.parsed.error.code == "not_found"
