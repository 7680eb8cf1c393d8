from django.urls import path

from polls.participation import views

urlpatterns = [
    path("artists/<slug:slug>/", views.artist_detail, name="artist_detail"),
    path("artists/<slug:slug>/follow/", views.artist_follow, name="artist_follow"),
    path("calls/<int:call_id>/", views.call_detail, name="call_detail"),
    path("calls/<int:call_id>/propose/", views.call_propose, name="call_propose"),
    path(
        "calls/<int:call_id>/proposals/<int:proposal_id>/support/",
        views.proposal_support,
        name="proposal_support",
    ),
]
