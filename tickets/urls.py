"""Browser pages of the agent's desk. The REST API is routed separately (tickets/api/urls.py)."""

from django.urls import path

from tickets import views

app_name = "tickets"
urlpatterns = [
    path("complaints/", views.queue, name="queue"),
    path("complaints/new/", views.complaint_new, name="new"),
    path("complaints/new/customers/", views.customer_lookup, name="customer_lookup"),
    path("complaints/bulk/", views.queue_bulk, name="bulk"),
    path("complaints/views/", views.saved_view_create, name="view_save"),
    path("complaints/views/<int:pk>/delete/", views.saved_view_delete, name="view_delete"),
    path("macros/", views.macro_list, name="macros"),
    path("macros/new/", views.macro_edit, name="macro_new"),
    path("macros/<int:pk>/", views.macro_edit, name="macro_edit"),
    path("complaints/<str:reference>/", views.complaint_detail, name="detail"),
    path("complaints/<str:reference>/notes/", views.complaint_comment, name="comment"),
    path("complaints/<str:reference>/macro/", views.macro_insert, name="macro_insert"),
    path("complaints/<str:reference>/changes/", views.complaint_changes, name="changes"),
    path("complaints/<str:reference>/replies/<int:comment_id>/send/", views.reply_send_again, name="reply_send_again"),
    path("complaints/<str:reference>/status/", views.complaint_transition, name="transition"),
    path("complaints/<str:reference>/assign/", views.complaint_assign, name="assign"),
]
