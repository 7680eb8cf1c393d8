"""Agency pages for polls (``/agency/<agency>/polls/``): list, create, edit, options,
schedule, close, cancel, publish, turnout, insight, and fraud signals with the four-eyes
review of ballots; and the agency home. Server-rendered, no JavaScript needed.

Like the API, each view parses a form, calls one service of ``polls.agency`` and turns
a refusal into form errors or a message; who may act is ``accounts.permissions``.
"""

from datetime import datetime
from http import HTTPStatus

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Agency, Membership, Role
from accounts.permissions import agency_of_member, check_agency_action, has_mfa, mfa_used, role_at_least
from accounts.selectors import memberships_of
from polls.agency import fraud_signals, insight, lifecycle, options, publishing, review
from polls.agency import selectors as agency_selectors
from polls.agency.forms import (
    FORM_FIELD_OF_LIFECYCLE_FIELD,
    InvalidationForm,
    OptionForm,
    OptionTranslationsForm,
    PollForm,
)
from polls.agency.insight_charts import ballots_words, sparkline_svg, turnout_chart_svg, voter_map_svg
from polls.errors import PollDataInvalid
from polls.models import InvalidationRequestState, Poll, PollKind, PollState, PollStatus
from voting.errors import Code, DomainError
from voting.ratelimits import rate_limited

TRANSITIONS = {
    "schedule": (
        lifecycle.poll_schedule,
        gettext_lazy("The poll is scheduled. Its options and rules are now frozen."),
    ),
    "close": (lifecycle.poll_close, gettext_lazy("The poll is closed.")),
    "cancel": (lifecycle.poll_cancel, gettext_lazy("The poll is cancelled.")),
    "publish": (publishing.poll_publish, gettext_lazy("The results are published and signed.")),
}


def _member_agency(request: HttpRequest, agency_slug: str) -> tuple[Agency, Membership]:
    # Another agency's pages do not exist for this user: not_found becomes the 404 page.
    return agency_of_member(user=request.user, slug=agency_slug)


def _agency_poll(agency: Agency, poll_slug: str) -> Poll:
    return get_object_or_404(Poll.objects.select_related("agency"), agency=agency, slug=poll_slug)


def _can_write(membership: Membership) -> bool:
    return role_at_least(membership, Role.MANAGER)


def _show_refusal(request: HttpRequest, refusal: DomainError, form=None) -> None:
    """Field errors go next to their field; anything else becomes a message."""
    if refusal.code == Code.NOT_FOUND:
        raise Http404
    if not isinstance(refusal, PollDataInvalid) or form is None:
        messages.error(request, refusal.detail)
    if not isinstance(refusal, PollDataInvalid):
        return
    for name, field_messages in refusal.fields.items():
        form_name = FORM_FIELD_OF_LIFECYCLE_FIELD.get(name, name)
        for message in field_messages:
            if form is not None and form_name in form.fields:
                form.add_error(form_name, message)
            elif form is not None:
                form.add_error(None, f"{name}: {message}")
            else:
                messages.error(request, f"{name}: {message}")


@login_required
# Each open poll's insight is a few queries (cached); bounded like the other reads.
@rate_limited("agency_read", methods=("GET",))
@require_GET
def agency_home(request: HttpRequest) -> HttpResponse:
    """The user's agencies, and every open poll of theirs with its turnout sparkline
    and surge badges."""
    open_polls = [
        {
            **entry,
            "sparkline": sparkline_svg(
                entry["insight"]["turnout"],
                label=_("Turnout over the last 48 hours: %(ballots)s")
                % {"ballots": ballots_words(sum(p["ballots"] for p in entry["insight"]["turnout"]))},
            ),
        }
        for entry in insight.open_polls_insight(user=request.user)
    ]
    context = {"memberships": memberships_of(user=request.user), "open_polls": open_polls}
    return render(request, "agency/home.html", context)


@login_required
@require_GET
def poll_list(request: HttpRequest, agency_slug: str) -> HttpResponse:
    agency, membership = _member_agency(request, agency_slug)
    context = {
        "agency": agency,
        "can_write": _can_write(membership),
        "polls": agency_selectors.polls_of_member(user=request.user, agency=agency),
    }
    return render(request, "agency/polls/list.html", context)


@login_required
@rate_limited("agency_write")
@require_http_methods(["GET", "POST"])
def poll_create(request: HttpRequest, agency_slug: str) -> HttpResponse:
    agency, _membership = _member_agency(request, agency_slug)
    check_agency_action(user=request.user, agency=agency, least=Role.MANAGER)
    form = PollForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            poll = lifecycle.poll_create(
                agency=agency, actor=request.user, data=form.lifecycle_data(), ip_address=request.client_ip
            )
        except DomainError as refusal:
            _show_refusal(request, refusal, form)
        else:
            messages.success(request, _("The draft is saved. Add its options next."))
            return redirect("agency:polls:detail", agency_slug=agency.slug, poll_slug=poll.slug)
    status = Code.INVALID.status if form.is_bound else HTTPStatus.OK
    return render(request, "agency/polls/create.html", {"agency": agency, "form": form}, status=status)


def _render_detail(
    request: HttpRequest,
    agency: Agency,
    membership: Membership,
    poll: Poll,
    *,
    poll_form: PollForm | None = None,
    option_form: OptionForm | None = None,
    status: int = HTTPStatus.OK,
) -> HttpResponse:
    can_write = _can_write(membership)
    editable = can_write and poll.state not in (PollState.PUBLISHED, PollState.CANCELLED)
    if editable and poll_form is None:
        poll_form = PollForm(initial=PollForm.initial_of(poll), text_only=poll.is_frozen)
    if can_write and not poll.is_frozen and option_form is None:
        option_form = OptionForm(kind=poll.kind, own_language=poll.language, auto_id="id_option_%s")
    poll_status = poll.status
    option_rows = [
        {
            "option": option,
            "translations_form": OptionTranslationsForm(
                initial=OptionTranslationsForm.translations_initial(option.translations),
                own_language=poll.language,
                auto_id=f"id_option{option.pk}_%s",
            )
            if can_write and not poll.is_frozen
            else None,
        }
        for option in poll.options.all()
    ]
    context = {
        "agency": agency,
        "poll": poll,
        "status": poll_status,
        "options": poll.options.all(),
        "option_rows": option_rows,
        "can_write": can_write,
        "poll_form": poll_form if editable else None,
        "option_form": option_form if can_write and not poll.is_frozen else None,
        "has_mfa": has_mfa(request.user),
        "mfa_used": mfa_used(request.user),
        "can_schedule": can_write and poll.state == PollState.DRAFT,
        "can_close": can_write and poll_status == PollStatus.OPEN,
        "can_cancel": can_write and poll.state in (PollState.DRAFT, PollState.SCHEDULED),
        "can_publish": can_write and poll_status == PollStatus.CLOSED,
        "publishable_at": _publishable_later(poll, poll_status),
        "turnout": agency_selectors.poll_turnout(poll=poll),
    }
    return render(request, "agency/polls/detail.html", context, status=status)


def _publishable_later(poll: Poll, poll_status: PollStatus) -> datetime | None:
    """When a closed poll still in its grace period may be published, else None."""
    if poll_status != PollStatus.CLOSED:
        return None
    moment = publishing.publishable_at(poll)
    return moment if moment > timezone.now() else None


@login_required
# The page counts the poll's ballots and voters (turnout): a costly read, bounded.
@rate_limited("agency_read", methods=("GET",))
@require_GET
def poll_detail(request: HttpRequest, agency_slug: str, poll_slug: str) -> HttpResponse:
    agency, membership = _member_agency(request, agency_slug)
    return _render_detail(request, agency, membership, _agency_poll(agency, poll_slug))


@login_required
@rate_limited("agency_write")
@require_POST
def poll_edit(request: HttpRequest, agency_slug: str, poll_slug: str) -> HttpResponse:
    agency, membership = _member_agency(request, agency_slug)
    check_agency_action(user=request.user, agency=agency, least=Role.MANAGER)
    poll = _agency_poll(agency, poll_slug)
    form = PollForm(request.POST, text_only=poll.is_frozen)
    if form.is_valid():
        try:
            poll = lifecycle.poll_update(
                poll=poll, actor=request.user, data=form.lifecycle_data(), ip_address=request.client_ip
            )
        except DomainError as refusal:
            _show_refusal(request, refusal, form)
        else:
            messages.success(request, _("The poll is saved."))
            return redirect("agency:polls:detail", agency_slug=agency.slug, poll_slug=poll.slug)
    return _render_detail(request, agency, membership, poll, poll_form=form, status=Code.INVALID.status)


@login_required
@rate_limited("agency_write")
@require_POST
def option_add(request: HttpRequest, agency_slug: str, poll_slug: str) -> HttpResponse:
    agency, membership = _member_agency(request, agency_slug)
    check_agency_action(user=request.user, agency=agency, least=Role.MANAGER)
    poll = _agency_poll(agency, poll_slug)
    form = OptionForm(
        request.POST, request.FILES, kind=poll.kind, own_language=poll.language, auto_id="id_option_%s"
    )
    if form.is_valid():
        data, image = form.lifecycle_data()
        try:
            options.option_add(
                poll=poll, actor=request.user, data=data, image=image, ip_address=request.client_ip
            )
        except DomainError as refusal:
            _show_refusal(request, refusal, form)
        else:
            messages.success(request, _("Option added."))
            return redirect("agency:polls:detail", agency_slug=agency.slug, poll_slug=poll.slug)
    return _render_detail(request, agency, membership, poll, option_form=form, status=Code.INVALID.status)


@login_required
@rate_limited("agency_write")
@require_POST
def option_translations(
    request: HttpRequest, agency_slug: str, poll_slug: str, option_id: int
) -> HttpResponse:
    """Add or correct an option's translations (a draft poll's, like every option change)."""
    agency, _membership = _member_agency(request, agency_slug)
    poll = _agency_poll(agency, poll_slug)
    option = get_object_or_404(poll.options, pk=option_id)
    option.poll = poll
    form = OptionTranslationsForm(request.POST, own_language=poll.language)
    if form.is_valid():
        try:
            options.option_update(
                option=option,
                actor=request.user,
                data={"translations": form.translations_data()},
                ip_address=request.client_ip,
            )
        except DomainError as refusal:
            _show_refusal(request, refusal)
        else:
            messages.success(request, _("Translations saved."))
    else:
        messages.error(request, _("Each translated label has at most 200 characters."))
    return redirect("agency:polls:detail", agency_slug=agency.slug, poll_slug=poll.slug)


@login_required
@rate_limited("agency_write")
@require_POST
def option_remove(request: HttpRequest, agency_slug: str, poll_slug: str, option_id: int) -> HttpResponse:
    agency, _membership = _member_agency(request, agency_slug)
    poll = _agency_poll(agency, poll_slug)
    option = get_object_or_404(poll.options, pk=option_id)
    try:
        options.option_remove(option=option, actor=request.user, ip_address=request.client_ip)
    except DomainError as refusal:
        _show_refusal(request, refusal)
    else:
        messages.success(request, _("Option removed."))
    return redirect("agency:polls:detail", agency_slug=agency.slug, poll_slug=poll.slug)


@login_required
@rate_limited("agency_write")
@require_POST
def poll_transition(request: HttpRequest, agency_slug: str, poll_slug: str, action: str) -> HttpResponse:
    agency, _membership = _member_agency(request, agency_slug)
    poll = _agency_poll(agency, poll_slug)
    transition, done = TRANSITIONS[action]
    try:
        transition(poll=poll, actor=request.user, ip_address=request.client_ip)
    except DomainError as refusal:
        _show_refusal(request, refusal)
    else:
        messages.success(request, done)
    return redirect("agency:polls:detail", agency_slug=agency.slug, poll_slug=poll.slug)


@login_required
@rate_limited("agency_read", methods=("GET", "POST"))
@require_GET
def poll_signals(request: HttpRequest, agency_slug: str, poll_slug: str) -> HttpResponse:
    """Fraud signals and their review, for managers and owners with MFA."""
    agency, membership = _member_agency(request, agency_slug)
    poll = _agency_poll(agency, poll_slug)
    try:
        review.check_reviewer(poll=poll, actor=request.user)
    except DomainError as refusal:
        _show_refusal(request, refusal)
        return redirect("agency:polls:detail", agency_slug=agency.slug, poll_slug=poll.slug)
    can_write = _can_write(membership)
    final = poll.state in (PollState.PUBLISHED, PollState.CANCELLED)
    clusters = fraud_signals.poll_signals(poll=poll)
    rows = [
        {
            "cluster": cluster,
            "form": InvalidationForm(
                initial={"kind": cluster.kind, "key": cluster.key}, auto_id=f"id_cluster{number}_%s"
            )
            if can_write and not final
            else None,
        }
        for number, cluster in enumerate(clusters, start=1)
    ]
    # The latest fifty; the API pages through all of them.
    requests = agency_selectors.invalidation_requests_of(poll=poll)[:50]
    context = {
        "agency": agency,
        "poll": poll,
        "rows": rows,
        "flagged": sum(1 for cluster in clusters if cluster.flagged),
        "threshold": fraud_signals.score_threshold(),
        "min_cluster_voters": fraud_signals.min_cluster_voters(),
        "can_write": can_write,
        "final": final,
        "has_mfa": has_mfa(request.user),
        "requests": requests,
        "pending": InvalidationRequestState.PENDING,
    }
    return render(request, "agency/polls/signals.html", context)


@login_required
@rate_limited("agency_write")
@require_POST
def invalidation_create(request: HttpRequest, agency_slug: str, poll_slug: str) -> HttpResponse:
    agency, _membership = _member_agency(request, agency_slug)
    poll = _agency_poll(agency, poll_slug)
    try:
        # Who may act is asked before the form is read.
        review.check_reviewer(poll=poll, actor=request.user)
    except DomainError as refusal:
        _show_refusal(request, refusal)
        return redirect("agency:polls:signals", agency_slug=agency.slug, poll_slug=poll.slug)
    form = InvalidationForm(request.POST)
    if not form.is_valid():
        for field_errors in form.errors.values():
            for error in field_errors:
                messages.error(request, error)
    else:
        try:
            invalidation = review.invalidation_request(
                poll=poll, actor=request.user, ip_address=request.client_ip, **form.review_data()
            )
        except DomainError as refusal:
            _show_refusal(request, refusal)
        else:
            if invalidation.state == InvalidationRequestState.PENDING:
                messages.success(request, _("Requested. Another member must approve it before it applies."))
            else:
                changed = invalidation.changed
                messages.success(
                    request,
                    ngettext(
                        "Done: %(changed)d ballot changed.", "Done: %(changed)d ballots changed.", changed
                    )
                    % {"changed": changed},
                )
    return redirect("agency:polls:signals", agency_slug=agency.slug, poll_slug=poll.slug)


DECISIONS = {
    "approve": (review.invalidation_approve, gettext_lazy("Approved and applied.")),
    "reject": (review.invalidation_reject, gettext_lazy("Rejected. No ballot changed.")),
}


@login_required
@rate_limited("agency_write")
@require_POST
def invalidation_decide(
    request: HttpRequest, agency_slug: str, poll_slug: str, request_id: int, action: str
) -> HttpResponse:
    agency, _membership = _member_agency(request, agency_slug)
    poll = _agency_poll(agency, poll_slug)
    decide, done = DECISIONS[action]
    try:
        invalidation = agency_selectors.invalidation_request_of(poll=poll, request_id=request_id)
        decide(request=invalidation, actor=request.user, ip_address=request.client_ip)
    except DomainError as refusal:
        _show_refusal(request, refusal)
    else:
        messages.success(request, done)
    return redirect("agency:polls:signals", agency_slug=agency.slug, poll_slug=poll.slug)


@never_cache
@login_required
@rate_limited("agency_read", methods=("GET",))
@require_GET
def poll_insight(request: HttpRequest, agency_slug: str, poll_slug: str) -> HttpResponse:
    """Turnout over time, by country and account age, surges, and the options over
    time when the results are public. Who may read it is decided before the range."""
    agency, _membership = _member_agency(request, agency_slug)
    poll = insight.insight_poll_of(user=request.user, slug=poll_slug, agency=agency)
    range_name = insight.parse_range(request.GET.get("range"))
    document = insight.poll_insight(poll=poll, range_name=range_name)
    chart = turnout_chart_svg(
        document["turnout"],
        title=_("Ballots over time: %(poll)s") % {"poll": poll.title},
        step=document["step"],
        time_zone=poll.timezone,
    )
    voter_map = None
    if poll.kind == PollKind.CITY:
        voter_map = voter_map_svg(
            document["countries"], title=_("Voters by country: %(poll)s") % {"poll": poll.title}
        )
    context = {
        "agency": agency,
        "poll": poll,
        "document": document,
        "surges": _with_percent(document["surges"], "recent_share", "before_share"),
        "countries": _with_percent(document["countries"], "share"),
        "account_age": _with_percent(document["account_age"], "share"),
        "turnout_rows": [(_moment(point["start"]), point["ballots"]) for point in document["turnout"]],
        "option_rows": _option_rows(document.get("options", [])),
        "chart": chart,
        "voter_map": voter_map,
        "ranges": list(insight.RANGES),
        "range": range_name,
        "cache_seconds": insight.insight_cache_seconds(),
    }
    return render(request, "agency/polls/insight.html", context)


def _with_percent(rows: list[dict], *fields: str) -> list[dict]:
    """Rows with ``<field without _share>_percent`` (or ``percent``) for the page."""
    return [
        {
            **row,
            **{(field.removesuffix("share") + "percent").lstrip("_"): row[field] * 100 for field in fields},
        }
        for row in rows
    ]


def _moment(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def _option_rows(options: list[dict]) -> list[tuple[datetime, list[int]]]:
    """The options' series as table rows: one per bucket, one column per option."""
    if not options:
        return []
    starts = [_moment(point["start"]) for point in options[0]["series"]]
    return [
        (start, [option["series"][index]["votes"] for option in options])
        for index, start in enumerate(starts)
    ]


@never_cache
@login_required
@rate_limited("agency_read", methods=("GET",))
@require_GET
def poll_insight_csv(request: HttpRequest, agency_slug: str, poll_slug: str) -> HttpResponse:
    """The insight page's numbers as CSV: the same document, so the same embargo."""
    agency, _membership = _member_agency(request, agency_slug)
    poll = insight.insight_poll_of(user=request.user, slug=poll_slug, agency=agency)
    range_name = insight.parse_range(request.GET.get("range"))
    document = insight.poll_insight(poll=poll, range_name=range_name)
    response = HttpResponse(insight.insight_csv(document), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="insight-{poll.slug}-{range_name}.csv"'
    return response
