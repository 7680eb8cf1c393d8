from django.urls import path

from polls import api, downloads

urlpatterns = [
    path("polls/", api.PollListView.as_view(), name="api-poll-list"),
    path("polls/<slug:slug>/", api.PollDetailView.as_view(), name="api-poll-detail"),
    path("polls/<slug:slug>/votes/", api.VoteView.as_view(), name="api-vote"),
    path("polls/<slug:slug>/results/", api.ResultsView.as_view(), name="api-results"),
    path("polls/<slug:slug>/checkpoints/", api.CheckpointListView.as_view(), name="api-checkpoints"),
    path("polls/<slug:slug>/bulletin/", downloads.bulletin_download, name="api-bulletin"),
    path("receipts/<str:receipt>/", api.ReceiptView.as_view(), name="api-receipt"),
    path("signing-key/", api.SigningKeyView.as_view(), name="api-signing-key"),
]
