from rest_framework.routers import SimpleRouter

from recovery.api import escalation, offers, outcomes

router = SimpleRouter(trailing_slash=True)
for area in (escalation, offers, outcomes):
    area.register(router)

urlpatterns = router.urls
