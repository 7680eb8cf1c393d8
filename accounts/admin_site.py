"""The operators' admin site: signing in goes through allauth, and only a session that
passed MFA may use it.

Django's own admin login form authenticates with a password alone, outside allauth's
rate limits and MFA stage. Here the admin's login page is never shown: allauth's
``secure_admin_login`` sends a visitor to allauth's sign-in (its limits, its MFA stage)
and refuses a signed-in account that is not an active operator; an operator whose
session did not pass MFA is sent to set it up or to confirm it, never in.
"""

from allauth.account.decorators import secure_admin_login
from allauth.account.utils import get_next_redirect_url
from django.contrib import admin, messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from accounts.permissions import has_mfa, mfa_used


class EncoreAdminSite(admin.AdminSite):
    def has_permission(self, request) -> bool:
        return super().has_permission(request) and mfa_used(request.user)

    @method_decorator(secure_admin_login)
    def login(self, request, extra_context=None):
        # secure_admin_login answered everyone but a signed-in, active operator.
        next_url = get_next_redirect_url(request) or reverse("admin:index", current_app=self.name)
        if mfa_used(request.user):
            return redirect(next_url)
        if not has_mfa(request.user):
            messages.error(request, _("Operators need two-factor authentication. Turn it on first."))
            return redirect("mfa_index")
        confirm = reverse("mfa_reauthenticate")
        return redirect(f"{confirm}?{urlencode({'next': next_url})}")
