"""In-app notices: the list, marking them read, and opening the page a notice points to."""

from django.urls import path

from notifications import views

app_name = "notifications"
urlpatterns = [
    path("notices/", views.notice_list, name="list"),
    path("notices/read/", views.notice_mark_read, name="mark_read"),
    path("notices/<int:pk>/open/", views.notice_open, name="open"),
]
