"""Browser pages of recovery; each area keeps its urlpatterns in recovery/views/<area>.py."""

from recovery.views import escalation, offers, outcomes

app_name = "recovery"
urlpatterns = [*escalation.urlpatterns, *offers.urlpatterns, *outcomes.urlpatterns]
