"""In-app notices: the list, marking them read, and opening the page a notice points to; webhook endpoints."""

from django.urls import path

from notifications import views, views_webhooks

app_name = "notifications"
urlpatterns = [
    path("notices/", views.notice_list, name="list"),
    path("notices/read/", views.notice_mark_read, name="mark_read"),
    path("notices/unread/", views.notice_unread_count, name="unread_count"),
    path("notices/<int:pk>/open/", views.notice_open, name="open"),
    path("webhooks/", views_webhooks.webhook_list, name="webhooks"),
    path("webhooks/<int:pk>/", views_webhooks.webhook_detail, name="webhook_detail"),
    path("webhooks/<int:pk>/delete/", views_webhooks.webhook_delete, name="webhook_delete"),
    path("webhooks/<int:pk>/rotate-secret/", views_webhooks.webhook_rotate_secret, name="webhook_rotate_secret"),
    path("webhooks/<int:pk>/replay/", views_webhooks.webhook_replay, name="webhook_replay"),
    path("webhooks/<int:pk>/deliveries/<int:delivery_id>/resend/", views_webhooks.webhook_resend, name="webhook_resend"),
]
