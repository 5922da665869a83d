from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from cxrecovery import views
from tickets.api.views import api_not_found

# Swagger UI runs under the strict policy (its page template keeps nothing inline and its settings come from
# ?script). No ReDoc page: ReDoc 2.5 cannot read the schema's hand-written anyOf alternatives (docs/api.md).
swagger_ui = SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="api/swagger_ui.html")

api_v1 = [
    path("", include("tickets.api.urls")),
    path("", include("recovery.api_urls")),
    path("", include("notifications.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", swagger_ui, name="docs"),
]

urlpatterns = [
    # First: Django tries the patterns in order, and the API is most of the traffic (an intake request used to be
    # matched against ~75 browser patterns before reaching it). No other pattern starts with api/.
    path("api/v1/", include(api_v1)),
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("tickets.urls")),
    # Helpdesk connections: /integrations/ pages and the inbound /hooks/helpdesk/<id>/ (outside /api/v1/).
    path("", include("tickets.helpdesks.urls")),
    path("", include("notifications.urls")),
    path("", include("recovery.urls")),
    # Last: whatever no API route claimed answers the API's JSON 404.
    re_path(r"^api/(?P<path>.*)$", api_not_found),
]
