"""Benchmark-only settings: the product's settings with the floor view's URL added. Never used in production."""

from cxrecovery.settings import *  # noqa: F401,F403

ROOT_URLCONF = "bench.urls"
