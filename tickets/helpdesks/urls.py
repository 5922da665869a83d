from django.urls import path

from tickets.helpdesks import inbound, views

app_name = "helpdesks"
urlpatterns = [
    path("integrations/", views.integrations, name="integrations"),
    path("integrations/<str:public_id>/", views.connection_detail, name="detail"),
    path("integrations/<str:public_id>/secret/", views.connection_secret, name="secret"),
    path("integrations/<str:public_id>/deliveries/<int:pk>/retry/", views.delivery_retry, name="retry"),
    path("hooks/helpdesk/<str:public_id>/", inbound.helpdesk_inbound, name="inbound"),
]
