"""``/agency/``: the staff area. Members and audit pages are accounts' views; the poll
pages are this package's (``poll_urls``)."""

from django.urls import include, path

from accounts import views

app_name = "agency"

urlpatterns = [
    path("", views.agency_home, name="home"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("<slug:slug>/members/", views.agency_members, name="members"),
    path("<slug:slug>/audit/", views.agency_audit_log, name="audit_log"),
    path("<slug:agency_slug>/polls/", include("polls.agency.poll_urls")),
]
