"""``/agency/<agency_slug>/polls/``: the agency's poll pages (polls/agency/views.py)."""

from django.urls import path

from polls.agency import views as agency_views

app_name = "polls"

urlpatterns = [
    path("", agency_views.poll_list, name="list"),
    # "new" is a reserved slug (polls.agency.rules.RESERVED_SLUGS), so no poll hides this page.
    path("new/", agency_views.poll_create, name="create"),
    path("<slug:poll_slug>/", agency_views.poll_detail, name="detail"),
    path("<slug:poll_slug>/edit/", agency_views.poll_edit, name="edit"),
    path("<slug:poll_slug>/options/", agency_views.option_add, name="option_add"),
    path(
        "<slug:poll_slug>/options/<int:option_id>/translations/",
        agency_views.option_translations,
        name="option_translations",
    ),
    path(
        "<slug:poll_slug>/options/<int:option_id>/remove/",
        agency_views.option_remove,
        name="option_remove",
    ),
    path("<slug:poll_slug>/schedule/", agency_views.poll_transition, {"action": "schedule"}, name="schedule"),
    path("<slug:poll_slug>/close/", agency_views.poll_transition, {"action": "close"}, name="close"),
    path("<slug:poll_slug>/cancel/", agency_views.poll_transition, {"action": "cancel"}, name="cancel"),
    path("<slug:poll_slug>/publish/", agency_views.poll_transition, {"action": "publish"}, name="publish"),
    path("<slug:poll_slug>/signals/", agency_views.poll_signals, name="signals"),
    path("<slug:poll_slug>/insight/", agency_views.poll_insight, name="insight"),
    path("<slug:poll_slug>/insight/csv/", agency_views.poll_insight_csv, name="insight_csv"),
    path("<slug:poll_slug>/invalidations/", agency_views.invalidation_create, name="invalidation_create"),
    path(
        "<slug:poll_slug>/invalidations/<int:request_id>/approve/",
        agency_views.invalidation_decide,
        {"action": "approve"},
        name="invalidation_approve",
    ),
    path(
        "<slug:poll_slug>/invalidations/<int:request_id>/reject/",
        agency_views.invalidation_decide,
        {"action": "reject"},
        name="invalidation_reject",
    ),
]
