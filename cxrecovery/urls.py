from csp.constants import SELF
from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from cxrecovery import views
from cxrecovery.security import THIRD_PARTY_PAGE_POLICY
from tickets.api.views import api_not_found

# Swagger UI runs under the strict policy (its page template keeps nothing inline and its settings come from
# ?script). ReDoc's bundle injects <style> elements and renders in a blob: worker, so its page alone gets the looser
# style policy; its scripts still come only from our static files (docs/operations.md, "Content-Security-Policy").
swagger_ui = SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="api/swagger_ui.html")
redoc = csp_update({**THIRD_PARTY_PAGE_POLICY, "worker-src": [SELF, "blob:"]})(
    SpectacularRedocView.as_view(url_name="schema", template_name="api/redoc.html")
)


api_v1 = [
    path("", include("tickets.api.urls")),
    path("", include("recovery.api.urls")),
    path("", include("notifications.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", swagger_ui, name="docs"),
    path("redoc/", redoc, name="redoc"),
]

urlpatterns = [
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
    path("api/v1/", include(api_v1)),
    # Last: whatever no API route claimed answers the API's JSON 404.
    re_path(r"^api/(?P<path>.*)$", api_not_found),
]
