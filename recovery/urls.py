"""Browser pages of recovery; each sub-domain keeps its urlpatterns in recovery/<sub-domain>/views.py."""

from recovery.escalation import views as escalation_views
from recovery.offers import views as offers_views
from recovery.outcomes import views as outcomes_views

app_name = "recovery"
urlpatterns = [*escalation_views.urlpatterns, *offers_views.urlpatterns, *outcomes_views.urlpatterns]
