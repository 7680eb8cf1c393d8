"""``/agency/``: the staff area. Members and audit pages are accounts' views; the home
(it shows the open polls' insight) and the poll pages are this package's."""

from django.urls import include, path

from accounts import views
from polls.agency import views as agency_views

app_name = "agency"

urlpatterns = [
    path("", agency_views.agency_home, name="home"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("<slug:slug>/members/", views.agency_members, name="members"),
    path("<slug:slug>/audit/", views.agency_audit_log, name="audit_log"),
    path("<slug:agency_slug>/polls/", include("polls.agency.poll_urls")),
]
