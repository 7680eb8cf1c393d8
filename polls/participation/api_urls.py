from django.urls import path

from polls.participation import api

urlpatterns = [
    path("artists/<slug:slug>/", api.ArtistDetailView.as_view(), name="api-artist"),
    path("artists/<slug:slug>/follow/", api.FollowView.as_view(), name="api-artist-follow"),
    path("me/follows/", api.MyFollowsView.as_view(), name="api-my-follows"),
    path("calls/<int:call_id>/", api.CallDetailView.as_view(), name="api-call"),
    path("calls/<int:call_id>/proposals/", api.ProposalCreateView.as_view(), name="api-call-proposals"),
    path(
        "calls/<int:call_id>/proposals/<int:proposal_id>/support/",
        api.SupportView.as_view(),
        name="api-proposal-support",
    ),
    path("cities/", api.CitySearchView.as_view(), name="api-cities"),
]
