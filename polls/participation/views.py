"""Fan pages of participation: an artist (polls, calls, follow), a call (proposals,
propose, support). Server-rendered, usable without JavaScript."""

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.fingerprint import client_fingerprint
from polls.models import PollKind
from polls.participation import selectors, services
from polls.participation.cities import city_search
from polls.participation.errors import ParticipationRefused
from polls.participation.forms import BotFrictionForm, CitySearchForm, ProposalForm
from polls.participation.models import HiddenReason
from voting.bot_friction import form_stamp
from voting.errors import Code, DomainError
from voting.ratelimits import rate_limited


def _artist_or_404(slug: str):
    artist = selectors.artist_by_slug(slug=slug)
    if artist is None:
        raise Http404
    return artist


def _call_or_404(call_id: int):
    call = selectors.call_by_id(call_id=call_id)
    if call is None:
        raise Http404
    return call


def _client(request) -> services.Client:
    return services.Client(ip=request.client_ip, fingerprint=client_fingerprint(request))


def artist_detail(request, slug: str):
    artist = _artist_or_404(slug)
    context = {
        "artist": artist,
        "sections": selectors.artist_poll_sections(artist=artist),
        "calls": selectors.artist_calls(artist=artist),
        "following": selectors.is_following(fan=request.user, artist=artist),
    }
    return render(request, "participation/artist.html", context)


@require_POST
@rate_limited("participate")
def artist_follow(request, slug: str):
    artist = _artist_or_404(slug)
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("artist_detail", kwargs={"slug": slug}))
    try:
        if request.POST.get("action") == "unfollow":
            services.follow_remove(fan=request.user, artist=artist)
            messages.success(request, _("You no longer follow %(name)s.") % {"name": artist.name})
        else:
            services.follow_add(fan=request.user, artist=artist)
            messages.success(request, _("You follow %(name)s.") % {"name": artist.name})
    except DomainError as refusal:
        messages.error(request, refusal.detail)
    return redirect("artist_detail", slug=artist.slug)


def _call_page(request, call, *, form=None, city_form=None, cities=(), refusal=None, status=200):
    kind = call.kind
    if form is None:
        form = ProposalForm(kind=kind, cities=cities, initial={"shown_at": form_stamp()})
    context = {
        "call": call,
        "artist": call.artist,
        "proposals": selectors.public_proposals(call=call),
        "hidden": selectors.hidden_counts_labelled(call=call),
        "supported": selectors.supported_ids(call=call, fan=request.user),
        "supports_left": selectors.supports_left(call=call, fan=request.user),
        "form": form,
        "city_form": city_form or CitySearchForm(request.GET or None),
        "cities": cities,
        "is_city": kind == PollKind.CITY,
        "is_design": kind == PollKind.DESIGN,
        "support_stamp": form_stamp(),
        "refusal": refusal,
        "hidden_reasons": HiddenReason,
    }
    return render(request, "participation/call.html", context, status=status)


def call_detail(request, call_id: int):
    call = _call_or_404(call_id)
    cities = []
    if call.kind == PollKind.CITY:
        query = request.GET.get("city", "")[:100]
        cities = city_search(query) if query.strip() else []
    return _call_page(request, call, cities=cities)


@require_http_methods(["POST"])
@rate_limited("participate")
def call_propose(request, call_id: int):
    call = _call_or_404(call_id)
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("call_detail", kwargs={"call_id": call.pk}))
    cities = []
    if call.kind == PollKind.CITY and request.POST.get("geoname_id", "").isdigit():
        from polls.participation.cities import city_by_id

        found = city_by_id(int(request.POST["geoname_id"]))
        cities = [found] if found else []
    form = ProposalForm(request.POST, request.FILES, kind=call.kind, cities=cities)
    if not form.is_valid():
        refusal = ParticipationRefused(Code.INVALID, _("Please check your suggestion."))
        return _call_page(
            request, call, form=form, cities=cities, refusal=refusal, status=Code.INVALID.status
        )
    bot_problem = form.bot_problem()
    if bot_problem:
        refusal = ParticipationRefused(Code.FORM_REJECTED, bot_problem)
        return _call_page(request, call, refusal=refusal, status=Code.FORM_REJECTED.status)
    data = form.cleaned_data
    try:
        proposal, created = services.proposal_create(
            call=call,
            fan=request.user,
            text=data.get("text") or None,
            geoname_id=data.get("geoname_id"),
            image=data.get("image"),
            client=_client(request),
        )
    except DomainError as refusal:
        return _call_page(
            request, call, form=form, cities=cities, refusal=refusal, status=refusal.http_status
        )
    if created:
        messages.success(request, _("Thank you! Your suggestion is in, with your support."))
    else:
        messages.success(
            request, _("“%(label)s” was suggested already: you now support it.") % {"label": proposal.label}
        )
    return redirect("call_detail", call_id=call.pk)


@require_POST
@rate_limited("participate")
def proposal_support(request, call_id: int, proposal_id: int):
    call = _call_or_404(call_id)
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("call_detail", kwargs={"call_id": call.pk}))
    form = BotFrictionForm(request.POST)
    problem = form.bot_problem() if form.is_valid() else _("This form could not be accepted.")
    if problem:
        return _call_page(
            request,
            call,
            refusal=ParticipationRefused(Code.FORM_REJECTED, problem),
            status=Code.FORM_REJECTED.status,
        )
    proposal = call.proposals.filter(pk=proposal_id).first()
    if proposal is None:
        raise Http404
    try:
        services.support_add(call=call, proposal=proposal, fan=request.user, client=_client(request))
    except DomainError as refusal:
        return _call_page(request, call, refusal=refusal, status=refusal.http_status)
    messages.success(request, _("You support “%(label)s”.") % {"label": proposal.label})
    return redirect("call_detail", call_id=call.pk)
