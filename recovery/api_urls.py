"""API routes of recovery; each sub-domain registers its viewsets from recovery/<sub-domain>/api.py."""

from rest_framework.routers import SimpleRouter

from recovery.escalation import api as escalation_api
from recovery.offers import api as offers_api
from recovery.outcomes import api as outcomes_api

router = SimpleRouter(trailing_slash=True)
for area in (escalation_api, offers_api, outcomes_api):
    area.register(router)

urlpatterns = router.urls
