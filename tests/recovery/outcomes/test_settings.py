"""OUTCOME_WINDOWS_DAYS and METRICS_CACHE_SECONDS come from the environment and are checked at start-up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CODE = "from django.conf import settings as s; print(s.OUTCOME_WINDOWS_DAYS, s.METRICS_CACHE_SECONDS)"


def settings_with(**env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"OUTCOME_WINDOWS_DAYS", "METRICS_CACHE_SECONDS"}}
    clean.update(env, DJANGO_SETTINGS_MODULE="cxrecovery.settings")
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {CODE}"],
        cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "printed"),
    [
        ({}, "(30, 60, 90) 600"),
        ({"OUTCOME_WINDOWS_DAYS": " 90, 14,60,14 ", "METRICS_CACHE_SECONDS": "0"}, "(14, 60, 90) 0"),
    ],
)
def test_outcome_settings_are_read_from_the_environment(env, printed):
    result = settings_with(**env)

    assert result.stdout.strip() == printed, result.stderr


@pytest.mark.parametrize("value", ["30,sixty", "0,30", "", "5000"])
def test_outcome_windows_must_be_whole_days_in_range(value):
    result = settings_with(OUTCOME_WINDOWS_DAYS=value)

    if value == "":
        assert result.stdout.strip().startswith("(30, 60, 90)")  # empty means the default
    else:
        assert result.returncode != 0
        assert "OUTCOME_WINDOWS_DAYS" in result.stderr
