"""Agency pages of participation (``/agency/<agency>/artists/``, ``.../calls/<id>/``):
artists with follower counts, a poll's artist, calls for suggestions, and moderation
(hide with a reason, merge, promote into a draft poll). Server-rendered, no JavaScript.
Each view asks who may act, parses the form, calls one service, reports the outcome."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Role
from accounts.permissions import agency_of_member, check_agency_action, role_at_least
from polls.agency import artists as artist_services
from polls.agency import calls as call_services
from polls.errors import PollDataInvalid
from polls.models import Poll, PollKind, PollState
from polls.participation import selectors
from polls.participation.models import Artist, HiddenReason, OpenCall
from voting.errors import Code, DomainError
from voting.ratelimits import rate_limited


def _refused(request: HttpRequest, refusal: DomainError) -> None:
    if refusal.code == Code.NOT_FOUND:
        raise Http404
    if isinstance(refusal, PollDataInvalid):
        for name, field_messages in refusal.fields.items():
            for message in field_messages:
                messages.error(request, f"{name}: {message}")
    else:
        messages.error(request, refusal.detail)


def _artist_of(agency, slug: str) -> Artist:
    artist = Artist.objects.filter(agency=agency, slug=slug).select_related("agency").first()
    if artist is None:
        raise Http404
    return artist


def _call_of(agency, call_id: int) -> OpenCall:
    call = (
        OpenCall.objects.filter(artist__agency=agency, pk=call_id)
        .select_related("artist", "artist__agency")
        .first()
    )
    if call is None:
        raise Http404
    return call


@login_required
@require_GET
def artist_list(request: HttpRequest, agency_slug: str) -> HttpResponse:
    agency, membership = agency_of_member(user=request.user, slug=agency_slug)
    artists = list(agency.artists.all())
    counts = selectors.follower_counts(artists=artists)
    for artist in artists:
        artist.followers = counts.get(artist.pk, 0)
    context = {"agency": agency, "artists": artists, "can_write": role_at_least(membership, Role.MANAGER)}
    return render(request, "agency/participation/artists.html", context)


@login_required
@require_POST
@rate_limited("agency_write")
def artist_create(request: HttpRequest, agency_slug: str) -> HttpResponse:
    agency, _membership = agency_of_member(user=request.user, slug=agency_slug)
    check_agency_action(user=request.user, agency=agency, least=Role.MANAGER)
    data = {name: request.POST.get(name, "") for name in ("name", "slug", "bio")}
    try:
        artist = artist_services.artist_create(
            agency=agency,
            actor=request.user,
            data=data,
            image=request.FILES.get("image"),
            ip_address=request.client_ip,
        )
    except DomainError as refusal:
        _refused(request, refusal)
        return redirect("agency:artists", agency_slug=agency.slug)
    messages.success(request, _("The artist is added."))
    return redirect("agency:artist", agency_slug=agency.slug, artist_slug=artist.slug)


@login_required
@require_GET
def artist_detail(request: HttpRequest, agency_slug: str, artist_slug: str) -> HttpResponse:
    agency, membership = agency_of_member(user=request.user, slug=agency_slug)
    artist = _artist_of(agency, artist_slug)
    now = timezone.now()
    context = {
        "agency": agency,
        "artist": artist,
        "followers": selectors.follower_count(artist=artist),
        "calls": artist.calls.all(),
        "polls": Poll.objects.filter(agency=agency, artist=artist),
        "other_polls": Poll.objects.filter(agency=agency)
        .exclude(artist=artist)
        .exclude(state__in=[PollState.PUBLISHED, PollState.CANCELLED])[:100],
        "can_write": role_at_least(membership, Role.MANAGER),
        "kinds": PollKind.choices,
        "default_opens": now.strftime("%Y-%m-%dT%H:%M"),
        "default_closes": (now + timedelta(days=14)).strftime("%Y-%m-%dT%H:%M"),
    }
    return render(request, "agency/participation/artist.html", context)


@login_required
@require_POST
@rate_limited("agency_write")
def artist_update(request: HttpRequest, agency_slug: str, artist_slug: str) -> HttpResponse:
    agency, _membership = agency_of_member(user=request.user, slug=agency_slug)
    check_agency_action(user=request.user, agency=agency, least=Role.MANAGER)
    artist = _artist_of(agency, artist_slug)
    data = {name: request.POST[name] for name in ("name", "slug", "bio") if name in request.POST}
    try:
        artist = artist_services.artist_update(
            artist=artist,
            actor=request.user,
            data=data,
            image=request.FILES.get("image"),
            ip_address=request.client_ip,
        )
    except DomainError as refusal:
        _refused(request, refusal)
    else:
        messages.success(request, _("Saved."))
    return redirect("agency:artist", agency_slug=agency.slug, artist_slug=artist.slug)


@login_required
@require_POST
@rate_limited("agency_write")
def poll_artist_set(request: HttpRequest, agency_slug: str, artist_slug: str) -> HttpResponse:
    """Attach one of the agency's polls to the artist (or detach it: ``remove``)."""
    agency, _membership = agency_of_member(user=request.user, slug=agency_slug)
    check_agency_action(user=request.user, agency=agency, least=Role.MANAGER)
    artist = _artist_of(agency, artist_slug)
    poll = (
        Poll.objects.filter(agency=agency, slug=request.POST.get("poll", "")).select_related("agency").first()
    )
    if poll is None:
        # An empty or unknown choice is the form's mistake, told on the page (not a 404).
        _refused(request, PollDataInvalid({"poll": _("Choose a poll of this agency.")}))
        return redirect("agency:artist", agency_slug=agency.slug, artist_slug=artist.slug)
    try:
        artist_services.poll_artist_set(
            poll=poll,
            artist=None if request.POST.get("remove") else artist,
            actor=request.user,
            ip_address=request.client_ip,
        )
    except DomainError as refusal:
        _refused(request, refusal)
    return redirect("agency:artist", agency_slug=agency.slug, artist_slug=artist.slug)


@login_required
@require_POST
@rate_limited("agency_write")
def poll_artist_choose(request: HttpRequest, agency_slug: str, poll_slug: str) -> HttpResponse:
    """The poll editor's artist field: ``artist`` is one of the agency's artists, or empty."""
    agency, _membership = agency_of_member(user=request.user, slug=agency_slug)
    check_agency_action(user=request.user, agency=agency, least=Role.MANAGER)
    poll = Poll.objects.filter(agency=agency, slug=poll_slug).select_related("agency").first()
    if poll is None:
        raise Http404
    chosen = request.POST.get("artist", "")
    artist = _artist_of(agency, chosen) if chosen else None
    try:
        artist_services.poll_artist_set(
            poll=poll, artist=artist, actor=request.user, ip_address=request.client_ip
        )
    except DomainError as refusal:
        _refused(request, refusal)
    else:
        messages.success(request, _("Saved."))
    return redirect("agency:polls:detail", agency_slug=agency.slug, poll_slug=poll.slug)


def _moment(value: str):
    moment = parse_datetime(value or "")
    if moment is not None and timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


@login_required
@require_POST
@rate_limited("agency_write")
def call_create(request: HttpRequest, agency_slug: str, artist_slug: str) -> HttpResponse:
    agency, _membership = agency_of_member(user=request.user, slug=agency_slug)
    check_agency_action(user=request.user, agency=agency, least=Role.MANAGER)
    artist = _artist_of(agency, artist_slug)
    post = request.POST
    try:
        data = {
            "question": post.get("question", ""),
            "description": post.get("description", ""),
            "kind": post.get("kind", ""),
            "opens_at": _moment(post.get("opens_at", "")),
            "closes_at": _moment(post.get("closes_at", "")),
            "max_supports_per_fan": int(post.get("max_supports_per_fan") or 3),
            "least_account_age": timedelta(days=int(post.get("least_account_age_days") or 0)),
        }
    except (ValueError, OverflowError):
        messages.error(request, _("Please give whole numbers."))
        return redirect("agency:artist", agency_slug=agency.slug, artist_slug=artist.slug)
    try:
        call = call_services.call_create(
            artist=artist, actor=request.user, data=data, ip_address=request.client_ip
        )
    except DomainError as refusal:
        _refused(request, refusal)
        return redirect("agency:artist", agency_slug=agency.slug, artist_slug=artist.slug)
    messages.success(request, _("The call is open to suggestions from its opening time."))
    return redirect("agency:call", agency_slug=agency.slug, call_id=call.pk)


@login_required
@require_GET
def call_detail(request: HttpRequest, agency_slug: str, call_id: int) -> HttpResponse:
    agency, membership = agency_of_member(user=request.user, slug=agency_slug)
    call = _call_of(agency, call_id)
    try:
        signals = call_services.call_signals(call=call, actor=request.user)
    except DomainError:
        signals = None  # only managers whose session used MFA see clusters of networks
    context = {
        "agency": agency,
        "call": call,
        "signals": signals,
        "proposals": selectors.all_proposals(call=call)[:1000],
        "hidden": selectors.hidden_counts_labelled(call=call),
        "reasons": HiddenReason.choices,
        "can_write": role_at_least(membership, Role.MANAGER),
    }
    return render(request, "agency/participation/call.html", context)


def _ids(values) -> list[int]:
    return [int(value) for value in values if str(value).isdigit()][:200]


@login_required
@require_POST
@rate_limited("agency_write")
def call_action(request: HttpRequest, agency_slug: str, call_id: int, action: str) -> HttpResponse:
    """hide, merge or promote; permission first (in each service), then the form."""
    agency, _membership = agency_of_member(user=request.user, slug=agency_slug)
    call = _call_of(agency, call_id)
    post = request.POST
    # Who may act is asked before the form is read; a refusal is its own page (403).
    check_agency_action(user=request.user, agency=agency, least=Role.MANAGER, mfa=action != "promote")
    try:
        if action == "hide":
            proposal = call.proposals.filter(pk__in=_ids([post.get("proposal", "")])).first()
            if proposal is None:
                raise PollDataInvalid({"proposal": _("Choose a suggestion of this call.")})
            call_services.proposal_hide(
                proposal=proposal,
                actor=request.user,
                reason=post.get("reason", ""),
                ip_address=request.client_ip,
            )
            messages.success(request, _("The suggestion is hidden."))
        elif action == "merge":
            keep = _ids([post.get("keep", "")])
            if not keep:
                raise PollDataInvalid({"keep": _("Choose the suggestion to keep.")})
            call_services.proposals_merge(
                call=call,
                keep_id=keep[0],
                merge_ids=_ids(post.getlist("proposals")),
                actor=request.user,
                ip_address=request.client_ip,
            )
            messages.success(request, _("The suggestions are merged."))
        else:
            data = {"title": post.get("title", "").strip() or None}
            poll = call_services.proposals_promote(
                call=call,
                proposal_ids=_ids(post.getlist("proposals")),
                actor=request.user,
                data=data,
                ip_address=request.client_ip,
            )
            messages.success(request, _("A draft poll is made from the chosen suggestions."))
            return redirect("agency:polls:detail", agency_slug=agency.slug, poll_slug=poll.slug)
    except DomainError as refusal:
        _refused(request, refusal)
    return redirect("agency:call", agency_slug=agency.slug, call_id=call.pk)
