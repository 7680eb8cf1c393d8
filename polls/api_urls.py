from django.urls import path

from polls import api

urlpatterns = [
    path("polls/", api.PollListView.as_view(), name="api-poll-list"),
    path("polls/<slug:slug>/", api.PollDetailView.as_view(), name="api-poll-detail"),
    path("polls/<slug:slug>/votes/", api.VoteView.as_view(), name="api-vote"),
]
