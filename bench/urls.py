"""The product's URLs plus the floor views; only bench.settings routes here."""

from django.urls import include, path

from bench.views import floor, floor_api

urlpatterns = [
    path("bench/floor/", floor, name="bench-floor"),
    path("bench/floor/api/", floor_api, name="bench-floor-api"),
    path("", include("cxrecovery.urls")),
]
