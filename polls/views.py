"""Fan pages: home, a poll with its ballot form, the receipt, and my votes."""

import secrets
from http import HTTPStatus

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.validators import slug_re
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_http_methods

from accounts.fingerprint import client_fingerprint
from polls import selectors
from polls.content_languages import localized
from polls.errors import PollRuleError, VoteRefused
from polls.forms import BallotForm
from polls.results_display import city_map_for, results_rounds, results_rows
from polls.services import ballot_cast
from voting.bot_friction import form_stamp
from voting.db_router import public_reads
from voting.errors import Code
from voting.ratelimits import rate_limited

FRESH_RECEIPT_SESSION_KEY = "polls:fresh_receipt"


def home(request):
    # ?artist=<slug> shows one artist's polls only (a slug or nothing: anything else is ignored).
    artist_slug = request.GET.get("artist", "")
    if not slug_re.fullmatch(artist_slug):
        artist_slug = ""
    # Public reads from a replica; the page itself (who is signed in) from the primary.
    with public_reads():
        sections = selectors.home_sections(artist_slug=artist_slug)
    return render(request, "polls/home.html", {"sections": sections, "artist_slug": artist_slug})


def _poll_or_404(slug: str):
    poll = selectors.poll_for_public(slug=slug)
    if poll is None:
        raise Http404
    return poll


def _poll_page(request, poll, form, status=HTTPStatus.OK, refusal: VoteRefused | None = None):
    context = {
        "poll": poll,
        "form": form,
        "refusal": refusal,
        "results_visible": selectors.results_visible(poll=poll),
    }
    if request.user.is_authenticated:
        context["my_ballots"] = selectors.ballots_of_voter(voter=request.user, poll=poll)
        context["votes_left"] = selectors.votes_left(poll=poll, voter=request.user)
    return render(request, "polls/detail.html", context, status=status)


def poll_detail(request, slug: str):
    with public_reads():
        poll = _poll_or_404(slug)
    return _poll_page(request, poll, _fresh_form(poll))


def _fresh_form(poll) -> BallotForm:
    """A ballot form with a new idempotency key and a new "shown at" stamp."""
    return BallotForm(
        poll=poll, initial={"idempotency_key": secrets.token_urlsafe(16), "shown_at": form_stamp()}
    )


@require_http_methods(["POST"])
@rate_limited("vote")
def poll_vote(request, slug: str):
    poll = _poll_or_404(slug)
    if not request.user.is_authenticated:
        return redirect_to_login(poll_url(poll))
    form = BallotForm(request.POST, poll=poll)
    if not form.is_valid():
        refusal = VoteRefused(Code.INVALID_CHOICE, _("Please check your choices."))
        return _poll_page(request, poll, form, status=Code.INVALID.status, refusal=refusal)
    bot_problem = form.bot_problem()
    if bot_problem:
        refusal = VoteRefused(Code.FORM_REJECTED, bot_problem)
        return _poll_page(request, poll, _fresh_form(poll), status=Code.INVALID.status, refusal=refusal)
    try:
        answer = ballot_cast(
            poll=poll,
            voter=request.user,
            choices=form.choices(),
            idempotency_key=form.cleaned_data.get("idempotency_key") or None,
            client_ip=request.client_ip,
            client_fingerprint=client_fingerprint(request),
        )
    except VoteRefused as refusal:
        return _poll_page(request, poll, form, status=refusal.http_status, refusal=refusal)
    request.session[FRESH_RECEIPT_SESSION_KEY] = answer.body
    return redirect("poll_voted", slug=poll.slug)


@never_cache
def poll_voted(request, slug: str):
    """Shows the receipt of the ballot just cast, once; a reload shows it no more."""
    poll = _poll_or_404(slug)
    answer = request.session.pop(FRESH_RECEIPT_SESSION_KEY, None)
    if not answer or answer.get("poll") != poll.slug:
        messages.info(request, _("A receipt is shown only once, right after voting."))
        return redirect(poll_url(poll))
    labels = {
        option.pk: localized(option, "label", own_language=poll.language) for option in poll.options.all()
    }
    chosen = [labels.get(option_id, "?") for option_id in answer["choices"]]
    return render(request, "polls/voted.html", {"poll": poll, "answer": answer, "chosen": chosen})


@login_required
def my_votes(request):
    ballots = selectors.ballots_of_voter(voter=request.user)[:200]
    return render(request, "polls/my_votes.html", {"ballots": ballots})


def poll_url(poll) -> str:
    from django.urls import reverse

    return reverse("poll_detail", kwargs={"slug": poll.slug})


def poll_results(request, slug: str):
    """Public results: counts only when the poll's visibility allows, else 403."""
    refusal = None
    with public_reads():
        poll = _poll_or_404(slug)
        try:
            results = selectors.results_of(poll=poll)
            checkpoints = list(selectors.checkpoints_of(poll=poll))
        except PollRuleError as hidden:
            refusal = hidden
    if refusal is not None:
        return render(
            request,
            "polls/results_hidden.html",
            {"poll": poll, "detail": refusal.detail},
            status=refusal.http_status,
        )
    context = {
        "poll": poll,
        "results": results,
        "rows": results_rows(poll, results),
        "rounds": results_rounds(poll, results),
        "city_map": city_map_for(poll, results),
        "checkpoints": checkpoints,
        "invalidated_total": sum(results["invalidated"].values()),
    }
    return render(request, "polls/results.html", context)


@require_http_methods(["GET", "POST"])
@cache_control(no_store=True)
@rate_limited("receipt")
def receipt_check(request):
    """The receipt form (GET) and its answer (POST, with CSRF). The code travels in the
    request body only, so it stays out of URLs, server logs and the browser's history;
    a GET with ``?code=`` looks nothing up and is sent to the bare form, so that the
    code leaves the address bar (the page would otherwise repeat its URL, e.g. in the
    language form). No cache keeps an answer. The status says "recorded" until the
    results are published (``Ballot.voter_status``)."""
    if request.method == "GET" and "code" in request.GET:
        return redirect("receipt_check")
    context = {}
    if request.method == "POST":
        code = request.POST.get("code", "").strip()
        ballot = selectors.ballot_for_receipt(code=code) if code else None
        context = {"ballot": ballot, "not_found": ballot is None}
    return render(request, "polls/receipt_check.html", context)
