"""Pages of the account (profile) and of the agency staff area (members, audit)."""

import json
from http import HTTPStatus

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from accounts import data_rights, selectors, services
from accounts.forms import AccountDeleteForm, InvitationForm, ProfileForm
from accounts.models import Agency, Membership, Role
from accounts.permissions import agency_of_member
from voting.errors import Code, DomainError
from voting.ratelimits import rate_limited


@login_required
@rate_limited("account_write")
@require_http_methods(["GET", "POST"])
def profile(request):
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            services.user_profile_update(user=request.user, **form.cleaned_data)
        except DomainError as refusal:
            form.add_error("country", ValidationError(refusal.detail, code=str(refusal.code)))
            return render(request, "accounts/profile.html", {"form": form}, status=refusal.http_status)
        messages.success(request, _("Your profile was saved."))
        response = redirect("profile")
        if form.cleaned_data["preferred_language"]:
            from django.conf import settings

            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, form.cleaned_data["preferred_language"])
        return response
    return render(request, "accounts/profile.html", {"form": form})


@never_cache
@login_required
@require_GET
@rate_limited("personal_data", methods=("GET",))
def personal_data(request):
    """Everything Encore holds about me, on a page, with a JSON download."""
    document = data_rights.personal_data_export(user=request.user)
    return render(request, "accounts/personal_data.html", {"data": document})


@never_cache
@login_required
@require_GET
@rate_limited("personal_data", methods=("GET",))
def personal_data_download(request):
    document = data_rights.personal_data_export(user=request.user)
    response = HttpResponse(
        json.dumps(document, indent=2, ensure_ascii=False), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="encore-my-data.json"'
    return response


@never_cache
@login_required
@rate_limited("account_write")
@require_http_methods(["GET", "POST"])
def account_delete(request):
    """Delete my account, after typing the password again (re-authentication)."""
    form = AccountDeleteForm(request.POST or None)
    refusal = None
    if request.method == "POST" and form.is_valid():
        try:
            data_rights.account_delete(user=request.user, password=form.cleaned_data["password"])
        except DomainError as refused:
            refusal = refused
        else:
            logout(request)
            messages.success(request, _("Your account was deleted. Your ballots stay counted, anonymously."))
            return redirect("home")
    if refusal is None and form.errors:
        refusal = DomainError(Code.INVALID, _("Type your password to confirm."))
    status = refusal.http_status if refusal else HTTPStatus.OK
    return render(request, "accounts/delete.html", {"form": form, "refusal": refusal}, status=status)


def _agency_for_member(request, slug: str) -> tuple[Agency, Membership]:
    # Not a member: the agency's pages do not exist for this user (not_found, a 404).
    return agency_of_member(user=request.user, slug=slug)


@login_required
@rate_limited("agency_write")
@require_http_methods(["GET", "POST"])
def agency_members(request, slug: str):
    agency, membership = _agency_for_member(request, slug)
    form = InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.invitation_create(
                agency=agency,
                inviter=request.user,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                ip_address=request.client_ip,
            )
        except DomainError as refusal:
            messages.error(request, refusal.detail)
            if refusal.code == Code.REAUTHENTICATION_REQUIRED:
                # allauth asks for the password (or second factor), then comes back here.
                back = reverse("agency:members", kwargs={"slug": agency.slug})
                return redirect(f"{reverse('account_reauthenticate')}?{urlencode({'next': back})}")
        else:
            messages.success(request, _("Invitation sent to %(email)s.") % form.cleaned_data)
            return redirect("agency:members", slug=agency.slug)
    context = {
        "agency": agency,
        "membership": membership,
        "is_owner": membership.role == Role.OWNER,
        "members": selectors.members_of(agency=agency),
        "invitations": selectors.open_invitations_of(agency=agency),
        "form": form,
    }
    return render(request, "agency/members.html", context)


@login_required
@rate_limited("agency_read", methods=("GET",))
def agency_audit_log(request, slug: str):
    agency, _membership = _agency_for_member(request, slug)
    page = Paginator(selectors.audit_log_of(agency=agency), 50).get_page(request.GET.get("page"))
    page.object_list = selectors.audit_entries_shown(page.object_list, user=request.user, agency=agency)
    return render(request, "agency/audit_log.html", {"agency": agency, "page": page})


@login_required
@rate_limited("account_write")
@require_http_methods(["GET", "POST"])
def invitation_accept(request, token: str):
    if request.method == "POST":
        try:
            membership = services.invitation_accept(
                token=token, user=request.user, ip_address=request.client_ip
            )
        except DomainError as refusal:
            messages.error(request, refusal.detail)
        else:
            messages.success(request, _("You joined %(agency)s.") % {"agency": membership.agency.name})
            return redirect("agency:members", slug=membership.agency.slug)
    return render(request, "agency/invitation_accept.html", {"token": token})
