from django.urls import path

from tickets.helpdesks import inbound, views

app_name = "helpdesks"
urlpatterns = [
    path("integrations/", views.integrations, name="integrations"),
    path("integrations/<str:public_id>/", views.connection_detail, name="detail"),
    path("integrations/<str:public_id>/secret/", views.connection_secret, name="secret"),
    path("integrations/<str:public_id>/deliveries/<int:pk>/retry/", views.delivery_retry, name="retry"),
    path("integrations/<str:public_id>/api/", views.connection_api, name="api"),
    path("integrations/<str:public_id>/writebacks/<int:pk>/resend/", views.writeback_resend, name="writeback_resend"),
    path("hooks/helpdesk/<str:public_id>/", inbound.helpdesk_inbound, name="inbound"),
]
