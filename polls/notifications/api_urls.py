from django.urls import path

from polls.notifications import api

urlpatterns = [
    path("", api.NotificationListView.as_view(), name="api-notifications"),
    path("read/", api.MarkReadView.as_view(), name="api-notifications-read"),
    path("preferences/", api.PreferencesView.as_view(), name="api-notification-preferences"),
]
