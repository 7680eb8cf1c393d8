"""The agency API (``/api/v1/agency/``): create, run and publish polls, read their
fraud signals and review ballots (four eyes).

Each view is thin: who may act is asked first (``accounts.permissions``, before the
body or the query is read: a caller without the role gets 403 or 404, never the list
of fields a valid request needs), then an input serializer parses, one service of
``polls.agency`` decides and writes, an output serializer answers. Agency API tokens
pass the same checks (accounts/principals.py). Refusals are DomainErrors and
leave as ``{"code", "detail"}`` through ``voting.errors.api_exception_handler``.
"""

from datetime import timedelta

from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role
from accounts.permissions import check_agency_action, check_agency_staff
from accounts.selectors import audit_entries_shown
from polls.agency import fraud_signals, insight, lifecycle, options, publishing, review, rules
from polls.agency import selectors as agency_selectors
from polls.content_languages import CONTENT_LANGUAGES
from polls.errors import PollChangeRefused
from polls.models import (
    MAX_OPTIONS,
    MAX_VOTES_PER_PERIOD,
    AccountAge,
    BallotStatus,
    InvalidationRequest,
    Option,
    Period,
    Poll,
    PollKind,
    ResultsVisibility,
    VotingMethod,
)
from voting.errors import Code, ErrorSerializer
from voting.ratelimits import rate_limited

# Scopes in settings.RATE_LIMITS: writes are generous for people at work but tight
# enough that a stolen session cannot flood the audit log or the disk with images;
# turnout, fraud signals, review requests and the audit log are costly reads (the
# turnout counts ballots, the others page through large tables), so they are bounded too.
write_limited = rate_limited("agency_write")
stats_limited = rate_limited("agency_read", methods=("GET",))


# ------------------------------------------------------------------ serializers

LANGUAGE_HELP = (
    "A language code of the interface: "
    + ", ".join(CONTENT_LANGUAGES)
    + ". Anything else is refused with `unknown_language`."
)


class PollTextsSerializer(serializers.Serializer):
    """A poll's text in one language other than its own."""

    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True)


class OptionTextsSerializer(serializers.Serializer):
    """An option's text in one language other than its poll's."""

    label = serializers.CharField(max_length=200, required=False, allow_blank=True)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True)


def translations_field(texts: type[serializers.Serializer], **kwargs) -> serializers.DictField:
    return serializers.DictField(
        child=texts(),
        help_text='By language code, e.g. {"ko": {...}}. ' + LANGUAGE_HELP,
        **kwargs,
    )


@extend_schema_field(OpenApiTypes.URI)
class OptionImageField(serializers.Field):
    """The absolute URL of a design's image, or null."""

    def to_representation(self, image) -> str | None:
        if not image:
            return None
        request = self.context.get("request")
        return request.build_absolute_uri(image.url) if request is not None else image.url


class AgencyOptionOutputSerializer(serializers.ModelSerializer):
    """An option with the metadata of its poll's kind only: the kind-specific fields
    are present for their kind alone, so the schema marks them optional."""

    country = serializers.CharField(required=False)
    latitude = serializers.FloatField(allow_null=True, required=False)
    longitude = serializers.FloatField(allow_null=True, required=False)
    image = OptionImageField(required=False, allow_null=True)
    translations = translations_field(OptionTextsSerializer)

    class Meta:
        model = Option
        fields = [
            "id",
            "label",
            "description",
            "translations",
            "position",
            "country",
            "latitude",
            "longitude",
            "population",
            "artist",
            "track",
            "preview_url",
            "image",
        ]

    def to_representation(self, option: Option) -> dict:
        data = super().to_representation(option)
        kind = option.poll.kind
        keep = {
            "id",
            "label",
            "description",
            "translations",
            "position",
            *rules.OPTION_METADATA_FIELDS.get(kind, ()),
        }
        if kind == PollKind.DESIGN:
            keep.add("image")
        return {name: value for name, value in data.items() if name in keep}


class AgencyPollOutputSerializer(serializers.ModelSerializer):
    agency = serializers.CharField(source="agency.slug")
    status = serializers.CharField()
    least_verification = serializers.CharField()
    least_account_age_days = serializers.SerializerMethodField()
    allowed_countries = serializers.SerializerMethodField()
    blocked_countries = serializers.SerializerMethodField()
    options = AgencyOptionOutputSerializer(many=True)
    language = serializers.CharField(help_text="The language of title, description and labels.")
    translations = translations_field(PollTextsSerializer)

    class Meta:
        model = Poll
        fields = [
            "slug",
            "agency",
            "kind",
            "method",
            "title",
            "description",
            "language",
            "translations",
            "state",
            "status",
            "opens_at",
            "closes_at",
            "closed_early_at",
            "cancelled_at",
            "timezone",
            "results_visibility",
            "min_choices",
            "max_choices",
            "votes_per_period",
            "period",
            "least_verification",
            "least_account_age_days",
            "allowed_countries",
            "blocked_countries",
            "options",
            "created_at",
            "updated_at",
        ]

    def get_least_account_age_days(self, poll: Poll) -> int:
        return poll.least_account_age.days

    def get_allowed_countries(self, poll: Poll) -> list[str]:
        return [country.code for country in poll.allowed_countries]

    def get_blocked_countries(self, poll: Poll) -> list[str]:
        return [country.code for country in poll.blocked_countries]


class AgencyPollInputSerializer(serializers.Serializer):
    """Poll fields an agency sets. On PATCH every field is optional."""

    slug = serializers.SlugField(max_length=80, required=False)
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    language = serializers.CharField(
        max_length=10,
        required=False,
        help_text="The language of title, description and labels. " + LANGUAGE_HELP,
    )
    translations = translations_field(PollTextsSerializer, required=False)
    kind = serializers.ChoiceField(choices=PollKind.choices)
    method = serializers.ChoiceField(choices=VotingMethod.choices, required=False)
    min_choices = serializers.IntegerField(min_value=1, max_value=MAX_OPTIONS, required=False)
    max_choices = serializers.IntegerField(min_value=1, max_value=MAX_OPTIONS, required=False)
    votes_per_period = serializers.IntegerField(min_value=1, max_value=MAX_VOTES_PER_PERIOD, required=False)
    period = serializers.ChoiceField(choices=Period.choices, required=False)
    least_verification = serializers.ChoiceField(choices=rules.VOTER_LEVELS, required=False)
    least_account_age_days = serializers.IntegerField(min_value=0, max_value=3650, required=False)
    # ISO 3166-1 alpha-2 codes; polls.agency.lifecycle refuses unknown ones, naming them.
    allowed_countries = serializers.ListField(
        child=serializers.CharField(min_length=2, max_length=2), required=False, max_length=300
    )
    blocked_countries = serializers.ListField(
        child=serializers.CharField(min_length=2, max_length=2), required=False, max_length=300
    )
    opens_at = serializers.DateTimeField()
    closes_at = serializers.DateTimeField()
    timezone = serializers.CharField(
        max_length=64, required=False, help_text="An IANA time zone, e.g. Asia/Seoul."
    )
    results_visibility = serializers.ChoiceField(choices=ResultsVisibility.choices, required=False)

    def to_lifecycle_data(self) -> dict:
        data = dict(self.validated_data)
        data.pop("agency", None)
        if "least_account_age_days" in data:
            data["least_account_age"] = timedelta(days=data.pop("least_account_age_days"))
        return data


class AgencyPollCreateInputSerializer(AgencyPollInputSerializer):
    agency = serializers.SlugField(help_text="Slug of one of your agencies.")


class AgencyOptionInputSerializer(serializers.Serializer):
    """An option; send ``multipart/form-data`` to upload a design's image."""

    label = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    translations = translations_field(OptionTextsSerializer, required=False)
    position = serializers.IntegerField(min_value=0, max_value=32767, required=False)
    country = serializers.CharField(max_length=2, required=False, allow_blank=True)
    latitude = serializers.FloatField(min_value=-90, max_value=90, required=False, allow_null=True)
    longitude = serializers.FloatField(min_value=-180, max_value=180, required=False, allow_null=True)
    population = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    artist = serializers.CharField(max_length=200, required=False, allow_blank=True)
    track = serializers.CharField(max_length=200, required=False, allow_blank=True)
    preview_url = serializers.CharField(max_length=200, required=False, allow_blank=True)
    image = serializers.FileField(required=False, allow_empty_file=False)

    def split(self) -> tuple[dict, object | None]:
        data = dict(self.validated_data)
        return data, data.pop("image", None)


class AgencyTurnoutOutputSerializer(serializers.Serializer):
    poll = serializers.CharField()
    status = serializers.CharField()
    ballots = serializers.IntegerField()
    voters = serializers.IntegerField()


class AgencyAuditEntryOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    actor = serializers.SerializerMethodField()
    action = serializers.CharField()
    target_type = serializers.CharField()
    target_id = serializers.CharField()
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)
    ip_address = serializers.IPAddressField(allow_null=True)
    api_token = serializers.SerializerMethodField(
        help_text="The API token that acted (its prefix), if one did."
    )

    def get_api_token(self, entry) -> str | None:
        return entry.api_token.prefix if entry.api_token_id else None

    def get_actor(self, entry) -> str | None:
        if entry.actor is None:
            return None
        # A deleted account stays as a tombstone: "deleted account", not its placeholder.
        return str(entry.actor) if entry.actor.is_deleted else entry.actor.email


# A pattern rather than an enum: drf-spectacular names enums after their field, and
# "kind" already names the enum of poll kinds.
@extend_schema_field(
    {"type": "string", "pattern": f"^({'|'.join(fraud_signals.KINDS)})$", "example": "network"}
)
class ClusterKindField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=fraud_signals.KINDS, **kwargs)


class ClusterIpOutputSerializer(serializers.Serializer):
    ip = serializers.IPAddressField()
    ballots = serializers.IntegerField()
    voters = serializers.IntegerField()


class ClusterOutputSerializer(serializers.Serializer):
    """One fraud-signal cluster; polls/agency/fraud_signals.py documents every figure."""

    kind = ClusterKindField()
    key = serializers.CharField()
    ballots = serializers.IntegerField()
    voters = serializers.IntegerField()
    ips = serializers.IntegerField(help_text="Distinct client addresses.")
    first_cast_at = serializers.DateTimeField()
    last_cast_at = serializers.DateTimeField()
    burst = serializers.FloatField(help_text="Ballots per minute over the busiest 10-minute window.")
    burst_ballots = serializers.IntegerField(help_text="Ballots cast in that window.")
    new_accounts = serializers.IntegerField(
        help_text="Voters whose account was under 24 h old at their first ballot."
    )
    signup_burst = serializers.IntegerField(
        help_text="Most voters whose accounts were created within one hour."
    )
    shared_fingerprint = serializers.IntegerField(help_text="Most voters sharing one client fingerprint.")
    shared_network = serializers.IntegerField(help_text="Most voters sharing one client network.")
    top_ips = ClusterIpOutputSerializer(many=True)
    country_mismatch = serializers.IntegerField(
        allow_null=True,
        help_text="Voters whose declared country is not their network's (GeoIP); null without a GeoIP database.",
    )
    components = serializers.DictField(child=serializers.FloatField())
    score = serializers.FloatField(min_value=0, max_value=1)
    flagged = serializers.BooleanField()
    statuses = serializers.DictField(child=serializers.IntegerField(), help_text="Ballots per status now.")


class SignalsOutputSerializer(serializers.Serializer):
    poll = serializers.SlugField()
    threshold = serializers.FloatField()
    min_cluster_voters = serializers.IntegerField()
    clusters = ClusterOutputSerializer(many=True)


class InvalidationClusterInputSerializer(serializers.Serializer):
    kind = ClusterKindField()
    key = serializers.CharField(max_length=64)


class InvalidationInputSerializer(serializers.Serializer):
    """Name the ballots either by id or by one cluster of the fraud signals."""

    ballot_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        allow_empty=False,
        max_length=review.MAX_REQUEST_BALLOTS,
    )
    cluster = InvalidationClusterInputSerializer(required=False)
    status = serializers.ChoiceField(choices=BallotStatus.choices)
    reason = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="A short code, e.g. bot_network.",
    )
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")

    def to_review_data(self) -> dict:
        data = dict(self.validated_data)
        if "cluster" in data:
            data["cluster"] = (data["cluster"]["kind"], data["cluster"]["key"])
        return data


class InvalidationOutputSerializer(serializers.ModelSerializer):
    poll = serializers.CharField(source="poll.slug")
    ballot_ids = serializers.ListField(child=serializers.IntegerField())
    requested_by = serializers.EmailField(source="requested_by.email")
    decided_by = serializers.SerializerMethodField()

    class Meta:
        model = InvalidationRequest
        fields = [
            "id",
            "poll",
            "status",
            "reason",
            "note",
            "size",
            "ballot_ids",
            "state",
            "requested_by",
            "requested_at",
            "decided_by",
            "decided_at",
            "changed",
        ]

    def get_decided_by(self, request: InvalidationRequest) -> str | None:
        return request.decided_by.email if request.decided_by else None


def paginated(serializer_class: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The schema of a page of ``serializer_class`` as PageNumberPagination answers it
    (these views paginate by hand, so drf-spectacular cannot tell)."""
    name = serializer_class.__name__.removesuffix("Serializer")
    fields = {
        "count": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": serializer_class(many=True),
    }
    return type(f"Paginated{name}ListSerializer", (serializers.Serializer,), fields)


# ------------------------------------------------------------------ views

REFUSALS = {
    400: ErrorSerializer,
    401: ErrorSerializer,
    403: ErrorSerializer,
    404: ErrorSerializer,
    409: ErrorSerializer,
    429: ErrorSerializer,
}


def _poll_answer(request, poll: Poll, status_code: int = status.HTTP_200_OK) -> Response:
    poll = agency_selectors.poll_of_member(user=request.user, slug=poll.slug)
    return Response(AgencyPollOutputSerializer(poll, context={"request": request}).data, status=status_code)


def _option_of(poll: Poll, option_id: int) -> Option:
    option = poll.options.filter(pk=option_id).first()
    if option is None:
        raise PollChangeRefused(Code.NOT_FOUND, _("Not found."))
    option.poll = poll
    return option


class AgencyView(APIView):
    permission_classes = [IsAuthenticated]


@method_decorator(write_limited, name="post")
class PollListView(AgencyView):
    class FilterSerializer(serializers.Serializer):
        agency = serializers.SlugField(required=False, allow_blank=True)

    @extend_schema(
        operation_id="v1_agency_polls_list",
        summary="Polls of your agencies",
        parameters=[OpenApiParameter("agency", str, description="Only this agency's polls (its slug).")],
        responses={200: paginated(AgencyPollOutputSerializer), **REFUSALS},
    )
    def get(self, request):
        check_agency_staff(user=request.user)
        # Parsed, so that no text reaches the database unchecked (a NUL byte was a 500).
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        agency = None
        if filters.validated_data.get("agency"):
            agency = agency_selectors.agency_of_member(
                user=request.user, slug=filters.validated_data["agency"]
            )
        polls = agency_selectors.polls_of_member(user=request.user, agency=agency)
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(polls, request, view=self)
        return paginator.get_paginated_response(
            AgencyPollOutputSerializer(page, many=True, context={"request": request}).data
        )

    @extend_schema(
        summary="Create a draft poll",
        request=AgencyPollCreateInputSerializer,
        responses={201: AgencyPollOutputSerializer, **REFUSALS},
    )
    def post(self, request):
        # The agency is named in the body: refuse anyone who could create in none first.
        check_agency_staff(user=request.user, least=Role.MANAGER)
        serializer = AgencyPollCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        agency = agency_selectors.agency_of_member(
            user=request.user, slug=serializer.validated_data["agency"]
        )
        poll = lifecycle.poll_create(
            agency=agency,
            actor=request.user,
            data=serializer.to_lifecycle_data(),
            ip_address=request.client_ip,
        )
        return _poll_answer(request, poll, status.HTTP_201_CREATED)


@method_decorator(write_limited, name="patch")
class PollDetailView(AgencyView):
    @extend_schema(summary="A poll of your agency", responses={200: AgencyPollOutputSerializer, **REFUSALS})
    def get(self, request, slug: str):
        return _poll_answer(request, agency_selectors.poll_of_member(user=request.user, slug=slug))

    @extend_schema(
        summary="Edit a poll (rules only while it is a draft)",
        request=AgencyPollInputSerializer(partial=True),
        responses={200: AgencyPollOutputSerializer, **REFUSALS},
    )
    def patch(self, request, slug: str):
        poll = agency_selectors.poll_of_member(user=request.user, slug=slug)
        check_agency_action(user=request.user, agency=poll.agency, least=Role.MANAGER)
        serializer = AgencyPollInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        poll = lifecycle.poll_update(
            poll=poll, actor=request.user, data=serializer.to_lifecycle_data(), ip_address=request.client_ip
        )
        return _poll_answer(request, poll)


OPTION_REQUEST = {
    "application/json": AgencyOptionInputSerializer,
    "multipart/form-data": AgencyOptionInputSerializer,
}


@method_decorator(write_limited, name="post")
class OptionListView(AgencyView):
    @extend_schema(
        summary="Add an option to a draft poll",
        request=OPTION_REQUEST,
        responses={201: AgencyOptionOutputSerializer, **REFUSALS},
    )
    def post(self, request, slug: str):
        poll = agency_selectors.poll_of_member(user=request.user, slug=slug)
        check_agency_action(user=request.user, agency=poll.agency, least=Role.MANAGER)
        serializer = AgencyOptionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data, image = serializer.split()
        option = options.option_add(
            poll=poll, actor=request.user, data=data, image=image, ip_address=request.client_ip
        )
        option.poll = poll
        return Response(
            AgencyOptionOutputSerializer(option, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


@method_decorator(write_limited, name="patch")
@method_decorator(write_limited, name="delete")
class OptionDetailView(AgencyView):
    @extend_schema(
        summary="Change an option of a draft poll",
        request={
            "application/json": AgencyOptionInputSerializer(partial=True),
            "multipart/form-data": AgencyOptionInputSerializer(partial=True),
        },
        responses={200: AgencyOptionOutputSerializer, **REFUSALS},
    )
    def patch(self, request, slug: str, option_id: int):
        poll = agency_selectors.poll_of_member(user=request.user, slug=slug)
        check_agency_action(user=request.user, agency=poll.agency, least=Role.MANAGER)
        option = _option_of(poll, option_id)
        serializer = AgencyOptionInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data, image = serializer.split()
        option = options.option_update(
            option=option, actor=request.user, data=data, image=image, ip_address=request.client_ip
        )
        option.poll = poll
        return Response(AgencyOptionOutputSerializer(option, context={"request": request}).data)

    @extend_schema(summary="Remove an option from a draft poll", responses={204: None, **REFUSALS})
    def delete(self, request, slug: str, option_id: int):
        poll = agency_selectors.poll_of_member(user=request.user, slug=slug)
        options.option_remove(
            option=_option_of(poll, option_id), actor=request.user, ip_address=request.client_ip
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


def _transition_answer(request, slug: str, transition) -> Response:
    poll = agency_selectors.poll_of_member(user=request.user, slug=slug)
    poll = transition(poll=poll, actor=request.user, ip_address=request.client_ip)
    return _poll_answer(request, poll)


@method_decorator(write_limited, name="post")
class PollScheduleView(AgencyView):
    @extend_schema(
        summary="Schedule a draft (needs MFA); its options and rules freeze",
        request=None,
        responses={200: AgencyPollOutputSerializer, **REFUSALS},
    )
    def post(self, request, slug: str):
        return _transition_answer(request, slug, lifecycle.poll_schedule)


@method_decorator(write_limited, name="post")
class PollCloseView(AgencyView):
    @extend_schema(
        summary="Close an open poll now (needs MFA)",
        request=None,
        responses={200: AgencyPollOutputSerializer, **REFUSALS},
    )
    def post(self, request, slug: str):
        return _transition_answer(request, slug, lifecycle.poll_close)


@method_decorator(write_limited, name="post")
class PollCancelView(AgencyView):
    @extend_schema(
        summary="Cancel a poll not yet published (needs MFA)",
        request=None,
        responses={200: AgencyPollOutputSerializer, **REFUSALS},
    )
    def post(self, request, slug: str):
        return _transition_answer(request, slug, lifecycle.poll_cancel)


@method_decorator(stats_limited, name="get")
class PollStatsView(AgencyView):
    @extend_schema(
        summary="Turnout of a poll: ballots and distinct voters (no per-option counts)",
        responses={200: AgencyTurnoutOutputSerializer, **REFUSALS},
    )
    def get(self, request, slug: str):
        poll = agency_selectors.poll_of_member(user=request.user, slug=slug)
        turnout = agency_selectors.poll_turnout(poll=poll)
        return Response(
            AgencyTurnoutOutputSerializer({"poll": poll.slug, "status": poll.status, **turnout}).data
        )


@method_decorator(stats_limited, name="get")
class AuditLogView(AgencyView):
    @extend_schema(
        summary="Your agency's audit log, newest first",
        responses={200: paginated(AgencyAuditEntryOutputSerializer), **REFUSALS},
    )
    def get(self, request, slug: str):
        agency, entries = agency_selectors.audit_log_of_member(user=request.user, slug=slug)
        # Names members, their addresses and networks: for people, not for API tokens.
        check_agency_action(user=request.user, agency=agency, least=Role.ANALYST, human=True)
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(entries, request, view=self)
        page = audit_entries_shown(page, user=request.user, agency=agency)
        return paginator.get_paginated_response(AgencyAuditEntryOutputSerializer(page, many=True).data)


@method_decorator(write_limited, name="post")
class PollPublishView(AgencyView):
    @extend_schema(
        summary="Publish a closed poll's results (needs MFA); answers with the signed results",
        request=None,
        responses={200: OpenApiTypes.OBJECT, **REFUSALS},
    )
    def post(self, request, slug: str):
        poll = agency_selectors.poll_of_member(user=request.user, slug=slug)
        snapshot = publishing.poll_publish(poll=poll, actor=request.user, ip_address=request.client_ip)
        return Response(snapshot.results)


@method_decorator(stats_limited, name="get")
class PollSignalsView(AgencyView):
    @extend_schema(
        summary="Fraud signals: clusters of ballots by network and fingerprint, flagged first",
        responses={200: SignalsOutputSerializer, **REFUSALS},
    )
    def get(self, request, slug: str):
        poll = agency_selectors.poll_of_member(user=request.user, slug=slug)
        review.check_reviewer(poll=poll, actor=request.user)
        answer = {
            "poll": poll.slug,
            "threshold": fraud_signals.score_threshold(),
            "min_cluster_voters": fraud_signals.min_cluster_voters(),
            "clusters": fraud_signals.poll_signals(poll=poll),
        }
        return Response(SignalsOutputSerializer(answer).data)


@method_decorator(stats_limited, name="get")
@method_decorator(write_limited, name="post")
class InvalidationListView(AgencyView):
    @extend_schema(
        summary="Requests to change ballot statuses, newest first (managers and owners with MFA)",
        responses={200: paginated(InvalidationOutputSerializer), **REFUSALS},
    )
    def get(self, request, slug: str):
        poll = agency_selectors.poll_of_member(user=request.user, slug=slug)
        # Requests name ballots, notes and clusters: the review's data, gated like it.
        review.check_reviewer(poll=poll, actor=request.user)
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(
            agency_selectors.invalidation_requests_of(poll=poll), request, view=self
        )
        return paginator.get_paginated_response(InvalidationOutputSerializer(page, many=True).data)

    @extend_schema(
        summary="Quarantine, invalidate or count again some ballots (needs MFA)",
        description=(
            "Waits for another member's approval (state `pending`) when the poll would then hold "
            "more invalidated ballots than the agency's approval threshold (counted per poll, "
            "across requests), or when it takes an invalidated ballot out of that status; "
            "anything else is applied at once (`applied`)."
        ),
        request=InvalidationInputSerializer,
        responses={201: InvalidationOutputSerializer, **REFUSALS},
    )
    def post(self, request, slug: str):
        poll = agency_selectors.poll_of_member(user=request.user, slug=slug)
        review.check_reviewer(poll=poll, actor=request.user)
        serializer = InvalidationInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invalidation = review.invalidation_request(
            poll=poll, actor=request.user, ip_address=request.client_ip, **serializer.to_review_data()
        )
        return Response(InvalidationOutputSerializer(invalidation).data, status=status.HTTP_201_CREATED)


def _decision_answer(request, slug: str, request_id: int, decide) -> Response:
    poll = agency_selectors.poll_of_member(user=request.user, slug=slug)
    review.check_reviewer(poll=poll, actor=request.user)
    invalidation = agency_selectors.invalidation_request_of(poll=poll, request_id=request_id)
    invalidation = decide(request=invalidation, actor=request.user, ip_address=request.client_ip)
    return Response(InvalidationOutputSerializer(invalidation).data)


@method_decorator(write_limited, name="post")
class InvalidationApproveView(AgencyView):
    @extend_schema(
        summary="Approve and apply another member's pending request (needs MFA)",
        request=None,
        responses={200: InvalidationOutputSerializer, **REFUSALS},
    )
    def post(self, request, slug: str, request_id: int):
        return _decision_answer(request, slug, request_id, review.invalidation_approve)


@method_decorator(write_limited, name="post")
class InvalidationRejectView(AgencyView):
    @extend_schema(
        summary="Reject another member's pending request (needs MFA)",
        request=None,
        responses={200: InvalidationOutputSerializer, **REFUSALS},
    )
    def post(self, request, slug: str, request_id: int):
        return _decision_answer(request, slug, request_id, review.invalidation_reject)


# ------------------------------------------------------------------ insight
# Kept together at the end of the module (serializers and view): polls/agency/insight.py
# builds the document; docs/insight.md explains every figure and the surge rule.


class InsightTurnoutPointSerializer(serializers.Serializer):
    start = serializers.DateTimeField(help_text="Start of the bucket (UTC).")
    ballots = serializers.IntegerField(help_text="Ballots cast in the bucket, whatever their status since.")


class InsightCountrySerializer(serializers.Serializer):
    country = serializers.CharField(
        allow_blank=True, help_text="ISO 3166-1 alpha-2 code of the voter's declared country; empty: unknown."
    )
    name = serializers.CharField()
    ballots = serializers.IntegerField()
    share = serializers.FloatField(min_value=0, max_value=1)
    new = serializers.IntegerField(help_text="Ballots from accounts under 30 days old when they voted.")
    established = serializers.IntegerField()


class InsightAccountAgeSerializer(serializers.Serializer):
    account_age = serializers.ChoiceField(choices=AccountAge.choices)
    label = serializers.CharField()
    ballots = serializers.IntegerField()
    share = serializers.FloatField(min_value=0, max_value=1)


# A pattern rather than an enum, as for ClusterKindField: "kind" names the poll kinds' enum.
@extend_schema_field({"type": "string", "pattern": "^(interest|suspicious)$", "example": "interest"})
class SurgeKindField(serializers.CharField):
    pass


class InsightSurgeSerializer(serializers.Serializer):
    country = serializers.CharField()
    name = serializers.CharField()
    recent_ballots = serializers.IntegerField(help_text="The country's ballots in the last hour.")
    recent_share = serializers.FloatField(help_text="The country's share of the last hour's ballots.")
    before_share = serializers.FloatField(help_text="Its share of the ballots before that hour.")
    networks = serializers.IntegerField(
        help_text="Distinct client networks (/24, /64) of its recent ballots."
    )
    fingerprints = serializers.IntegerField(help_text="Distinct client fingerprints of its recent ballots.")
    top_network_share = serializers.FloatField(
        help_text="Share of its recent ballots from the busiest network."
    )
    top_fingerprint_share = serializers.FloatField(
        help_text="Share of its recent ballots with the commonest fingerprint."
    )
    kind = SurgeKindField(help_text="suspicious when one network or one fingerprint holds most of it.")
    review_url = serializers.CharField(
        allow_null=True, help_text="The poll's fraud signals page, for a suspicious surge."
    )


class InsightOptionPointSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    votes = serializers.IntegerField()


class InsightOptionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField()
    votes = serializers.IntegerField()
    share = serializers.FloatField()
    population = serializers.IntegerField(allow_null=True)
    per_million = serializers.FloatField(
        allow_null=True, help_text="Votes per million residents (city options with a population)."
    )
    series = InsightOptionPointSerializer(many=True)


class InsightOutputSerializer(serializers.Serializer):
    poll = serializers.SlugField()
    status = serializers.CharField()
    updated_at = serializers.DateTimeField(
        allow_null=True, help_text="When the counters were last refreshed."
    )
    range = serializers.ChoiceField(choices=list(insight.RANGES))
    step = serializers.ChoiceField(
        choices=list(insight.STEP_LENGTH), help_text="Size of the turnout buckets."
    )
    results_visible = serializers.BooleanField()
    ballots = serializers.IntegerField()
    turnout = InsightTurnoutPointSerializer(many=True)
    countries = InsightCountrySerializer(many=True)
    account_age = InsightAccountAgeSerializer(many=True)
    surges = InsightSurgeSerializer(many=True)
    options = InsightOptionSerializer(
        many=True,
        required=False,
        help_text="Only while the poll's results are visible to the public (the embargo holds for agencies).",
    )


@method_decorator(stats_limited, name="get")
class PollInsightView(AgencyView):
    @extend_schema(
        summary="Insight: turnout over time, by country and account age, surges; options when results are public",
        parameters=[
            OpenApiParameter(
                "range",
                str,
                enum=list(insight.RANGES),
                description="How far back the turnout goes (default all: since the opening).",
            )
        ],
        responses={200: InsightOutputSerializer, **REFUSALS},
    )
    def get(self, request, slug: str):
        # Who may read comes first: a caller without the role never gets to the range.
        poll = insight.insight_poll_of(user=request.user, slug=slug)
        range_name = insight.parse_range(request.query_params.get("range"))
        return Response(InsightOutputSerializer(insight.poll_insight(poll=poll, range_name=range_name)).data)
