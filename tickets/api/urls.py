from rest_framework.routers import SimpleRouter

from tickets.api.views import ComplaintViewSet, CustomerViewSet

router = SimpleRouter(trailing_slash=True)
router.register("complaints", ComplaintViewSet, basename="complaint")
router.register("customers", CustomerViewSet, basename="customer")

urlpatterns = router.urls
