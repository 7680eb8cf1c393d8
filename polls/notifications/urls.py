from django.urls import path

from polls.notifications import views

urlpatterns = [
    path("my/notifications/", views.inbox, name="notification_inbox"),
    path("my/notifications/preferences/", views.preferences, name="notification_preferences"),
    path("notifications/unsubscribe/<str:token>/", views.unsubscribe, name="notification_unsubscribe"),
]
