"""``/agency/``: the staff area. Members and audit pages are accounts' views; the home
(it shows the open polls' insight) and the poll pages are this package's."""

from django.urls import include, path

from accounts import views
from polls.agency import participation_views as participation
from polls.agency import views as agency_views

app_name = "agency"

urlpatterns = [
    path("", agency_views.agency_home, name="home"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("<slug:slug>/members/", views.agency_members, name="members"),
    path("<slug:slug>/members/<int:member_id>/role/", views.agency_member_role, name="member_role"),
    path("<slug:slug>/members/<int:member_id>/remove/", views.agency_member_remove, name="member_remove"),
    path(
        "<slug:slug>/invitations/<int:invitation_id>/revoke/",
        views.agency_invitation_revoke,
        name="invitation_revoke",
    ),
    path("<slug:slug>/tokens/", views.agency_tokens, name="tokens"),
    path("<slug:slug>/tokens/<int:token_id>/revoke/", views.agency_token_revoke, name="token_revoke"),
    path("<slug:slug>/audit/", views.agency_audit_log, name="audit_log"),
    path("<slug:agency_slug>/polls/", include("polls.agency.poll_urls")),
    path("<slug:agency_slug>/artists/", participation.artist_list, name="artists"),
    path("<slug:agency_slug>/artists/new/", participation.artist_create, name="artist_create"),
    path("<slug:agency_slug>/artists/<slug:artist_slug>/", participation.artist_detail, name="artist"),
    path(
        "<slug:agency_slug>/artists/<slug:artist_slug>/edit/",
        participation.artist_update,
        name="artist_update",
    ),
    path(
        "<slug:agency_slug>/artists/<slug:artist_slug>/polls/",
        participation.poll_artist_set,
        name="artist_poll",
    ),
    path(
        "<slug:agency_slug>/artists/<slug:artist_slug>/calls/", participation.call_create, name="call_create"
    ),
    path(
        "<slug:agency_slug>/poll-artist/<slug:poll_slug>/",
        participation.poll_artist_choose,
        name="poll_artist_choose",
    ),
    path("<slug:agency_slug>/calls/<int:call_id>/", participation.call_detail, name="call"),
    path(
        "<slug:agency_slug>/calls/<int:call_id>/hide/",
        participation.call_action,
        {"action": "hide"},
        name="call_hide",
    ),
    path(
        "<slug:agency_slug>/calls/<int:call_id>/merge/",
        participation.call_action,
        {"action": "merge"},
        name="call_merge",
    ),
    path(
        "<slug:agency_slug>/calls/<int:call_id>/promote/",
        participation.call_action,
        {"action": "promote"},
        name="call_promote",
    ),
]
