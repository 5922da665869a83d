"""Browser views for outcomes."""

urlpatterns: list = []
