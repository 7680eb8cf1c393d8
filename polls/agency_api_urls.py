"""``/api/v1/agency/``: the agency API (see polls/agency_api.py)."""

from django.urls import path

from polls import agency_api

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
    path("agencies/<slug:slug>/audit/", agency_api.AuditLogView.as_view(), name="audit"),
]
