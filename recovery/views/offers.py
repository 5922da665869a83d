"""Browser views for offers."""

urlpatterns: list = []
