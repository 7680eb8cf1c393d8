"""The fans' and the public's JSON API: polls, their details, and casting votes."""

from django.conf import settings
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import NotAuthenticated
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.fingerprint import client_fingerprint
from accounts.voter_cards import voter_card_store
from polls import selectors
from polls.content_languages import localized, reader_language
from polls.errors import VoteRefused
from polls.lean_api import results_response
from polls.models import Poll, PollKind, PollStatus, VoterStatus
from polls.services import ballot_cast
from voting.db_router import public_reads, reads_from_replica
from voting.errors import Code, DomainError, ErrorSerializer
from voting.ratelimits import rate_limited


def reader_language_of(request) -> str:
    """The reader's language: the account's (an app's token sign-in too, which the
    locale middleware cannot see), unless a language was chosen on the site, else what
    the request asks for (Accept-Language, through the locale middleware)."""
    user = getattr(request, "user", None)
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    if user is not None and user.is_authenticated and user.preferred_language and not chosen:
        return reader_language(user.preferred_language)
    return reader_language()


class LocalizedTextsMixin:
    """``title``/``label`` and ``description`` in the reader's language
    (``context["language"]``), each with the language it is really in."""

    main_text = "title"

    def localized_texts(self, obj, own_language: str) -> dict:
        language = self.context.get("language")
        main = localized(obj, self.main_text, language=language, own_language=own_language)
        description = localized(obj, "description", language=language, own_language=own_language)
        return {
            self.main_text: main.text,
            "description": description.text,
            "language": main.language,
            "description_language": description.language,
        }


class OptionOutputSerializer(LocalizedTextsMixin, serializers.Serializer):
    main_text = "label"

    id = serializers.IntegerField()
    label = serializers.CharField(help_text="In the reader's language if translated, else the poll's.")
    language = serializers.CharField(help_text="The language of `label`.")
    position = serializers.IntegerField()
    description = serializers.CharField()
    description_language = serializers.CharField(help_text="The language of `description`.")

    def to_representation(self, option):
        poll = self.context["poll"]
        data = {"id": option.pk, "position": option.position, **self.localized_texts(option, poll.language)}
        kind = poll.kind
        if kind == PollKind.CITY:
            data.update(
                country=option.country.code or None,
                latitude=float(option.latitude) if option.latitude is not None else None,
                longitude=float(option.longitude) if option.longitude is not None else None,
                population=option.population,
            )
        elif kind == PollKind.SINGLE:
            data.update(artist=option.artist, track=option.track, preview_url=option.preview_url or None)
        elif kind == PollKind.DESIGN:
            data.update(image=self._image_url(option))
        return data

    def _image_url(self, option) -> str | None:
        if not option.image:
            return None
        request = self.context.get("request")
        return request.build_absolute_uri(option.image.url) if request else option.image.url


class PollOutputSerializer(LocalizedTextsMixin, serializers.Serializer):
    slug = serializers.SlugField()
    kind = serializers.CharField()
    method = serializers.CharField()
    title = serializers.CharField(help_text="In the reader's language if translated, else the poll's.")
    language = serializers.CharField(help_text="The language of `title`.")
    description = serializers.CharField()
    description_language = serializers.CharField(read_only=True, help_text="The language of `description`.")
    poll_language = serializers.CharField(
        source="language", help_text="The poll's own language: that of its results and bulletin board."
    )
    agency = serializers.CharField(source="agency.slug")
    artist = serializers.SlugField(source="artist.slug", allow_null=True, default=None)
    status = serializers.SerializerMethodField()
    opens_at = serializers.DateTimeField()
    closes_at = serializers.DateTimeField(source="effective_closes_at")
    timezone = serializers.CharField()
    results_visibility = serializers.CharField()
    min_choices = serializers.IntegerField()
    max_choices = serializers.IntegerField()
    votes_per_period = serializers.IntegerField()
    period = serializers.CharField()
    least_verification = serializers.CharField()
    options = serializers.SerializerMethodField()

    def get_status(self, poll: Poll) -> str:
        return poll.status.value

    def to_representation(self, poll: Poll) -> dict:
        data = super().to_representation(poll)
        data.update(self.localized_texts(poll, poll.language))
        return data

    def get_options(self, poll: Poll) -> list[dict]:
        context = {**self.context, "poll": poll}
        return OptionOutputSerializer(poll.options.all(), many=True, context=context).data


# A pattern rather than an enum: drf-spectacular names enums after their field, and
# "status" already names the enum of poll statuses.
@extend_schema_field(
    {
        "type": "string",
        "pattern": f"^({'|'.join(VoterStatus.values)})$",
        "example": VoterStatus.RECORDED.value,
    }
)
class VoterStatusField(serializers.CharField):
    """A ballot's status as its voter sees it: "recorded" until the results are
    published (``polls.models.VoterStatus``)."""

    def __init__(self, **kwargs):
        super().__init__(source="voter_status", **kwargs)


class BallotOutputSerializer(serializers.Serializer):
    status = VoterStatusField()
    reason = serializers.CharField(source="voter_reason")
    choices = serializers.SerializerMethodField()
    cast_at = serializers.DateTimeField()
    day = serializers.DateField()

    def get_choices(self, ballot) -> list[int]:
        return [choice.option_id for choice in ballot.choices.all()]


@extend_schema(
    summary="List polls",
    responses={
        200: PollOutputSerializer(many=True),
        400: ErrorSerializer,
        404: ErrorSerializer,
        429: ErrorSerializer,
    },
    parameters=[
        OpenApiParameter("status", OpenApiTypes.STR, enum=[s.value for s in PollStatus if s != "draft"]),
        OpenApiParameter("kind", OpenApiTypes.STR, enum=PollKind.values),
        OpenApiParameter("agency", OpenApiTypes.STR, description="agency slug"),
        OpenApiParameter("artist", OpenApiTypes.STR, description="artist slug"),
    ],
)
class PollListView(ListAPIView):
    serializer_class = PollOutputSerializer

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "language": reader_language_of(self.request)}

    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(
            choices=[s.value for s in PollStatus if s != "draft"], required=False
        )
        kind = serializers.ChoiceField(choices=PollKind.values, required=False)
        agency = serializers.SlugField(required=False)
        artist = serializers.SlugField(required=False)

    @method_decorator(reads_from_replica)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = self.FilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        wanted = filters.validated_data
        polls = (
            selectors.polls_with_status(status=wanted["status"])
            if "status" in wanted
            else selectors.public_polls()
        )
        if "kind" in wanted:
            polls = polls.filter(kind=wanted["kind"])
        if "agency" in wanted:
            polls = polls.filter(agency__slug=wanted["agency"])
        if "artist" in wanted:
            polls = polls.filter(artist__slug=wanted["artist"])
        return polls.prefetch_related("options").order_by("-opens_at", "id")


class PollDetailView(APIView):
    @extend_schema(
        summary="A poll, its options and rules, and the caller's own ballots",
        responses={200: PollOutputSerializer, 404: ErrorSerializer},
    )
    def get(self, request, slug: str):
        with public_reads():
            poll = _public_poll_or_404(slug)
            data = PollOutputSerializer(
                poll, context={"request": request, "language": reader_language_of(request)}
            ).data
        # The caller's own ballots come from the primary: never older than their vote.
        if request.user.is_authenticated:
            ballots = selectors.ballots_of_voter(voter=request.user, poll=poll)
            data["your_ballots"] = BallotOutputSerializer(ballots, many=True).data
            data["your_votes_left"] = selectors.votes_left(poll=poll, voter=request.user)
        return Response(data)


@method_decorator(rate_limited("vote"), name="post")
class VoteView(APIView):
    class InputSerializer(serializers.Serializer):
        choices = serializers.ListField(child=serializers.IntegerField(), allow_empty=True)

    class OutputSerializer(serializers.Serializer):
        receipt = serializers.CharField()
        poll = serializers.SlugField()
        choices = serializers.ListField(child=serializers.IntegerField())
        cast_at = serializers.DateTimeField()

    @extend_schema(
        summary="Cast a vote",
        description=(
            "Answers 201 with the receipt, shown this once. Send an `Idempotency-Key` "
            "header to make a retry return the first answer."
        ),
        parameters=[OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER)],
        request=InputSerializer,
        responses={
            201: OutputSerializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
            422: ErrorSerializer,
            429: ErrorSerializer,
        },
    )
    def post(self, request, slug: str):
        if not request.user.is_authenticated:
            raise NotAuthenticated()
        poll = _public_poll_or_404(slug)
        payload = self.InputSerializer(data=request.data)
        if not payload.is_valid():
            raise VoteRefused(Code.INVALID_CHOICE, _('Send {"choices": [option ids]}.'))
        key = request.headers.get("Idempotency-Key", "").strip()[:128] or None
        # An app session stores its voter card, so its next vote can take the lean path
        # (polls/lean_api.py); this vote uses the same card instead of reading it again.
        token = request.headers.get("X-Session-Token", "")
        card = voter_card_store(session_key=token, user=request.user) if token else None
        answer = ballot_cast(
            poll=poll,
            voter=card or request.user,
            choices=payload.validated_data["choices"],
            idempotency_key=key,
            client_ip=request._request.client_ip,
            client_fingerprint=client_fingerprint(request),
        )
        return Response(answer.body, status=answer.status_code)


def _public_poll_or_404(slug: str) -> Poll:
    poll = selectors.poll_for_public(slug=slug)
    if poll is None:
        raise DomainError(Code.NOT_FOUND, _("No such poll."))
    return poll


class ResultsView(APIView):
    @extend_schema(
        summary="Results: live (if the poll's visibility allows) or final (published, signed)",
        responses={200: OpenApiTypes.OBJECT, 403: ErrorSerializer, 404: ErrorSerializer},
    )
    @method_decorator(reads_from_replica)
    def get(self, request, slug: str):
        # The same bytes, ETag and caching as the lean path answers with.
        return results_response(request._request, _public_poll_or_404(slug))


class CheckpointOutputSerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    count = serializers.IntegerField()
    digest = serializers.CharField()
    created_at = serializers.DateTimeField()


class CheckpointListOutputSerializer(serializers.Serializer):
    poll = serializers.SlugField()
    checkpoints = CheckpointOutputSerializer(many=True)


class CheckpointListView(APIView):
    @extend_schema(
        summary="Checkpoints published while the poll was open",
        responses={200: CheckpointListOutputSerializer, 404: ErrorSerializer},
    )
    @method_decorator(reads_from_replica)
    def get(self, request, slug: str):
        poll = _public_poll_or_404(slug)
        return Response(
            {
                "poll": poll.slug,
                "checkpoints": CheckpointOutputSerializer(
                    selectors.checkpoints_of(poll=poll), many=True
                ).data,
            }
        )


class ReceiptOutputSerializer(serializers.Serializer):
    poll = serializers.CharField(source="poll.slug")
    status = VoterStatusField()
    reason = serializers.CharField(source="voter_reason")
    choices = serializers.SerializerMethodField()
    cast_at = serializers.DateTimeField()
    day = serializers.DateField()
    checkpoint = serializers.IntegerField(allow_null=True)

    def get_choices(self, ballot) -> list[int]:
        return [choice.option_id for choice in ballot.choices.all()]


@method_decorator(rate_limited("receipt", methods=("GET",)), name="get")
# Every answer, refusals included: the path holds the code, and no cache may keep it.
@method_decorator(cache_control(no_store=True), name="dispatch")
class ReceiptView(APIView):
    @extend_schema(
        summary="Check a receipt: whether and how the ballot was counted",
        description=(
            'The status is "recorded" (no reason) until the poll\'s results are published, '
            'then "counted", "quarantined" or "invalidated" with its reason. Answers '
            "`Cache-Control: no-store`. Browsers should use the receipt page, which takes the "
            "code by POST and keeps it out of URLs."
        ),
        responses={200: ReceiptOutputSerializer, 404: ErrorSerializer, 429: ErrorSerializer},
    )
    def get(self, request, receipt: str):
        ballot = selectors.ballot_for_receipt(code=receipt)
        if ballot is None:
            raise DomainError(Code.NOT_FOUND, _("No ballot has this receipt."))
        return Response(ReceiptOutputSerializer(ballot).data)


class SigningKeyView(APIView):
    @extend_schema(
        summary="The public key that signs published results (Ed25519)", responses=OpenApiTypes.OBJECT
    )
    def get(self, request):
        from polls.signing import public_key_pem

        return Response({"algorithm": "Ed25519", "public_key_pem": public_key_pem()})
