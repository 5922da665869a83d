from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = "Complaints"

    def ready(self) -> None:
        from notifications.catalogue import event_types_register
        from tickets import receivers  # noqa: F401  (reply emails' results, broken integrations)
        from tickets.api import auth  # noqa: F401  (registers the OpenAPI auth extension)
        from tickets.helpdesks import writeback
        from tickets.webhook_payloads import EVENTS

        event_types_register(EVENTS)
        # A changed, revoked or deleted API key must not be served from the cache again (tickets/apikeys.py).
        from django.db.models.signals import post_delete, post_save

        from tickets.apikeys import forget_changed_key
        from tickets.models import ApiKey

        post_save.connect(forget_changed_key, sender=ApiKey, dispatch_uid="tickets.apikey_forget_saved")
        post_delete.connect(forget_changed_key, sender=ApiKey, dispatch_uid="tickets.apikey_forget_deleted")
        # Write-back to helpdesks: a delivery target kind of notifications' outbox (notifications imports nothing
        # of ours; we hand it the sender).
        writeback.register()
