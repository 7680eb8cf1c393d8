"""The admin application, with Encore's admin site (accounts/admin_site.py).

Its own module: INSTALLED_APPS imports it before any model can be, while the site
needs the models (who used MFA) and allauth.
"""

from django.contrib.admin.apps import AdminConfig


class EncoreAdminConfig(AdminConfig):
    default_site = "accounts.admin_site.EncoreAdminSite"
