from django.urls import path

from polls import views

urlpatterns = [
    path("", views.home, name="home"),
    path("polls/<slug:slug>/", views.poll_detail, name="poll_detail"),
    path("polls/<slug:slug>/vote/", views.poll_vote, name="poll_vote"),
    path("polls/<slug:slug>/voted/", views.poll_voted, name="poll_voted"),
    path("polls/<slug:slug>/results/", views.poll_results, name="poll_results"),
    path("receipts/", views.receipt_check, name="receipt_check"),
    path("my/votes/", views.my_votes, name="my_votes"),
]
