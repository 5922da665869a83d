from rest_framework.routers import SimpleRouter

from notifications.api.views import WebhookEndpointViewSet

router = SimpleRouter(trailing_slash=True)
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")

urlpatterns = router.urls
