"""Browser views for escalation."""

urlpatterns: list = []
