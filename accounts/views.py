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
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import api_tokens, data_rights, members, selectors, services
from accounts.forms import AccountDeleteForm, ApiTokenForm, InvitationForm, ProfileForm
from accounts.models import Agency, Membership, Role
from accounts.permissions import agency_of_member, check_agency_action, has_mfa, mfa_used
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
    if request.method == "POST":
        # Who may invite is asked before the form is read (a 403 page, not field errors).
        try:
            services.check_invitation_create(inviter=request.user, agency=agency)
        except DomainError as refusal:
            return _after_refusal(request, refusal, reverse("agency:members", kwargs={"slug": agency.slug}))
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
        "role_choices": Role.choices,
        "has_mfa": has_mfa(request.user),
        "mfa_used": mfa_used(request.user),
    }
    return render(request, "agency/members.html", context)


def _after_refusal(request, refusal: DomainError, back: str):
    """Send the owner to prove it is them when that is what was missing (MFA first
    when they have it: allauth's MFA reauthentication also counts as a recent sign-in),
    else back with the reason as a message. Not a member, not an owner, no MFA at all:
    the refusal's own page (404, 403)."""
    if refusal.code in (Code.NOT_FOUND, Code.PERMISSION_DENIED, Code.MFA_REQUIRED):
        raise refusal
    messages.error(request, refusal.detail)
    if refusal.code in (Code.REAUTHENTICATION_REQUIRED, Code.MFA_NOT_USED):
        where = "mfa_reauthenticate" if has_mfa(request.user) else "account_reauthenticate"
        return redirect(f"{reverse(where)}?{urlencode({'next': back})}")
    return redirect(back)


def _member_change(request, slug: str, change, done: str):
    agency, _membership = _agency_for_member(request, slug)
    back = reverse("agency:members", kwargs={"slug": agency.slug})
    try:
        change(agency)
    except DomainError as refusal:
        return _after_refusal(request, refusal, back)
    messages.success(request, done)
    return redirect(back)


@login_required
@rate_limited("agency_write")
@require_POST
def agency_member_role(request, slug: str, member_id: int):
    """Change a member's role. The service asks who may act before the role is read."""

    def change(agency):
        members.member_role_change(
            agency=agency,
            actor=request.user,
            membership_id=member_id,
            role=request.POST.get("role", ""),
            ip_address=request.client_ip,
        )

    return _member_change(request, slug, change, _("The role was changed."))


@login_required
@rate_limited("agency_write")
@require_POST
def agency_member_remove(request, slug: str, member_id: int):
    def change(agency):
        members.member_remove(
            agency=agency, actor=request.user, membership_id=member_id, ip_address=request.client_ip
        )

    return _member_change(request, slug, change, _("The member was removed."))


@login_required
@rate_limited("agency_write")
@require_POST
def agency_invitation_revoke(request, slug: str, invitation_id: int):
    def change(agency):
        members.invitation_revoke(
            agency=agency, actor=request.user, invitation_id=invitation_id, ip_address=request.client_ip
        )

    return _member_change(request, slug, change, _("The invitation was revoked."))


@never_cache
@login_required
@rate_limited("agency_write")
@require_http_methods(["GET", "POST"])
def agency_tokens(request, slug: str):
    """The agency's API tokens (owners). A new token is shown on the answer to the
    form that made it, once: only its hash is kept."""
    agency, _membership = _agency_for_member(request, slug)
    check_agency_action(user=request.user, agency=agency, least=Role.OWNER, human=True)
    back = reverse("agency:tokens", kwargs={"slug": agency.slug})
    form = None
    created = None
    if request.method == "POST":
        try:
            api_tokens.check_token_management(actor=request.user, agency=agency)
        except DomainError as refusal:
            return _after_refusal(request, refusal, back)
        form = ApiTokenForm(request.POST)
        if form.is_valid():
            try:
                api_token, token = api_tokens.api_token_create(
                    agency=agency, actor=request.user, ip_address=request.client_ip, **form.cleaned_data
                )
            except DomainError as refusal:
                form.add_error(None, refusal.detail)
            else:
                created = {"api_token": api_token, "token": token}
                form = None
    context = {
        "agency": agency,
        "form": form or ApiTokenForm(),
        "created": created,
        "tokens": api_tokens.tokens_of(agency=agency),
        "has_mfa": has_mfa(request.user),
        "mfa_used": mfa_used(request.user),
    }
    status = Code.INVALID.status if form is not None and form.errors else HTTPStatus.OK
    return render(request, "agency/tokens.html", context, status=status)


@login_required
@rate_limited("agency_write")
@require_POST
def agency_token_revoke(request, slug: str, token_id: int):
    agency, _membership = _agency_for_member(request, slug)
    back = reverse("agency:tokens", kwargs={"slug": agency.slug})
    try:
        api_tokens.api_token_revoke(
            agency=agency, actor=request.user, token_id=token_id, ip_address=request.client_ip
        )
    except DomainError as refusal:
        return _after_refusal(request, refusal, back)
    messages.success(request, _("The token was revoked."))
    return redirect(back)


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
