from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import api as accounts_api
from accounts import views as accounts_views
from polls.downloads import signing_key_pem
from voting import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/profile/", accounts_views.profile, name="profile"),
    path("accounts/data/", accounts_views.personal_data, name="personal_data"),
    path("accounts/data/download/", accounts_views.personal_data_download, name="personal_data_download"),
    path("accounts/delete/", accounts_views.account_delete, name="account_delete"),
    path("accounts/", include("allauth.urls")),
    path("_allauth/", include("allauth.headless.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("agency/", include("polls.agency.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's set-up script as a file, not inline (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/me/", accounts_api.MeView.as_view(), name="api-me"),
    path("api/v1/me/data/", accounts_api.MeDataView.as_view(), name="api-me-data"),
    path("api/v1/me/notifications/", include("polls.notifications.api_urls")),
    path("api/v1/agency/", include("polls.agency.api_urls")),
    path("api/v1/", include("polls.participation.api_urls")),
    path("api/v1/", include("polls.api_urls")),
    path(".well-known/encore-signing-key.pem", signing_key_pem, name="signing-key-pem"),
    path("healthz", health.healthz, name="healthz"),
    path("", include("polls.participation.urls")),
    path("", include("polls.notifications.urls")),
    path("", include("polls.urls")),
]

if settings.DEBUG:
    urlpatterns += [path("media/<path:path>", serve, {"document_root": settings.MEDIA_ROOT})]
handler404 = "voting.errors.not_found_view"
