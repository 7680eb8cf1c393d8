"""``/api/v1/agency/``: the agency API (see polls/agency/api.py)."""

from django.urls import path

from accounts import agency_api as staff_api
from polls.agency import api as agency_api
from polls.agency import participation_api

app_name = "agency_api"

urlpatterns = [
    path("polls/", agency_api.PollListView.as_view(), name="polls"),
    path("polls/<slug:slug>/", agency_api.PollDetailView.as_view(), name="poll"),
    path("polls/<slug:slug>/options/", agency_api.OptionListView.as_view(), name="options"),
    path("polls/<slug:slug>/options/<int:option_id>/", agency_api.OptionDetailView.as_view(), name="option"),
    path("polls/<slug:slug>/schedule/", agency_api.PollScheduleView.as_view(), name="schedule"),
    path("polls/<slug:slug>/close/", agency_api.PollCloseView.as_view(), name="close"),
    path("polls/<slug:slug>/cancel/", agency_api.PollCancelView.as_view(), name="cancel"),
    path("polls/<slug:slug>/stats/", agency_api.PollStatsView.as_view(), name="stats"),
    path("polls/<slug:slug>/publish/", agency_api.PollPublishView.as_view(), name="publish"),
    path("polls/<slug:slug>/signals/", agency_api.PollSignalsView.as_view(), name="signals"),
    path("polls/<slug:slug>/insight/", agency_api.PollInsightView.as_view(), name="insight"),
    path("polls/<slug:slug>/invalidations/", agency_api.InvalidationListView.as_view(), name="invalidations"),
    path(
        "polls/<slug:slug>/invalidations/<int:request_id>/approve/",
        agency_api.InvalidationApproveView.as_view(),
        name="invalidation_approve",
    ),
    path(
        "polls/<slug:slug>/invalidations/<int:request_id>/reject/",
        agency_api.InvalidationRejectView.as_view(),
        name="invalidation_reject",
    ),
    path("agencies/<slug:slug>/audit/", agency_api.AuditLogView.as_view(), name="audit"),
    path("agencies/<slug:slug>/members/", staff_api.MemberListView.as_view(), name="members"),
    path(
        "agencies/<slug:slug>/members/<int:member_id>/", staff_api.MemberDetailView.as_view(), name="member"
    ),
    path("agencies/<slug:slug>/invitations/", staff_api.InvitationListView.as_view(), name="invitations"),
    path(
        "agencies/<slug:slug>/invitations/<int:invitation_id>/",
        staff_api.InvitationDetailView.as_view(),
        name="invitation",
    ),
    path("agencies/<slug:slug>/tokens/", staff_api.ApiTokenListView.as_view(), name="tokens"),
    path("agencies/<slug:slug>/tokens/<int:token_id>/", staff_api.ApiTokenDetailView.as_view(), name="token"),
    path("polls/<slug:slug>/artist/", participation_api.PollArtistView.as_view(), name="poll_artist"),
    path("artists/", participation_api.ArtistListView.as_view(), name="artists"),
    path("artists/<slug:slug>/", participation_api.ArtistDetailView.as_view(), name="artist"),
    path("artists/<slug:slug>/calls/", participation_api.CallListView.as_view(), name="artist_calls"),
    path("calls/<int:call_id>/", participation_api.CallDetailView.as_view(), name="call"),
    path(
        "calls/<int:call_id>/proposals/<int:proposal_id>/hide/",
        participation_api.ProposalHideView.as_view(),
        name="proposal_hide",
    ),
    path("calls/<int:call_id>/merge/", participation_api.ProposalMergeView.as_view(), name="proposals_merge"),
    path(
        "calls/<int:call_id>/promote/",
        participation_api.ProposalPromoteView.as_view(),
        name="proposals_promote",
    ),
    path("calls/<int:call_id>/signals/", participation_api.CallSignalsView.as_view(), name="call_signals"),
]
