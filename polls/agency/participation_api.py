"""The agency API of participation (``/api/v1/agency/``): artists (with follower
counts, never per-fan lists), a poll's artist, calls for suggestions and their
moderation: hide, merge, promote, and the fraud signals of supports."""

from datetime import timedelta

from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role
from accounts.permissions import agencies_of, agency_of_member, check_agency_action, check_agency_staff
from polls.agency import artists as artist_services
from polls.agency import calls as call_services
from polls.agency.api import ClusterOutputSerializer
from polls.agency.rules import VOTER_LEVELS
from polls.errors import PollDataInvalid
from polls.models import Poll, PollKind
from polls.participation import selectors
from polls.participation.models import MAX_SUPPORTS_PER_FAN, Artist, HiddenReason, OpenCall, Proposal
from voting.errors import Code, DomainError, ErrorSerializer
from voting.ratelimits import rate_limited

write_limited = method_decorator(rate_limited("agency_write"), name="dispatch")
REFUSALS = dict.fromkeys((400, 401, 403, 404, 409, 429), ErrorSerializer)


# Ids beyond a 64-bit integer are no row's: refused as input, not sent to the database.
MAX_ROW_ID = 2**63 - 1


class AgencyArtistOutputSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()
    bio = serializers.CharField()
    agency = serializers.CharField(source="agency.slug")
    followers = serializers.IntegerField(help_text="How many fans follow the artist (never who).")


class AgencyArtistInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    slug = serializers.SlugField(max_length=80, required=False, allow_blank=True)
    bio = serializers.CharField(max_length=500, required=False, allow_blank=True)
    image = serializers.ImageField(required=False)

    def split(self) -> tuple[dict, object]:
        data = dict(self.validated_data)
        return data, data.pop("image", None)


class AgencyArtistCreateInputSerializer(AgencyArtistInputSerializer):
    agency = serializers.SlugField(help_text="Slug of one of your agencies.")


class AgencyCallInputSerializer(serializers.Serializer):
    question = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=PollKind.choices)
    opens_at = serializers.DateTimeField()
    closes_at = serializers.DateTimeField()
    max_supports_per_fan = serializers.IntegerField(
        min_value=1, max_value=MAX_SUPPORTS_PER_FAN, required=False
    )
    least_verification = serializers.ChoiceField(choices=VOTER_LEVELS, required=False)
    least_account_age_days = serializers.IntegerField(min_value=0, max_value=3650, required=False)

    def to_data(self) -> dict:
        data = dict(self.validated_data)
        if "least_account_age_days" in data:
            data["least_account_age"] = timedelta(days=data.pop("least_account_age_days"))
        return data


class AgencyProposalOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField()
    state = serializers.CharField()
    hidden_reason = serializers.CharField()
    merged_into = serializers.IntegerField(source="merged_into_id", allow_null=True)
    supports = serializers.IntegerField(source="support_count")
    country = serializers.CharField()
    population = serializers.IntegerField(allow_null=True)
    promoted_to = serializers.SerializerMethodField()

    def get_promoted_to(self, proposal) -> str | None:
        promotion = getattr(proposal, "promotion", None)
        return promotion.poll.slug if promotion else None


class AgencyCallOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    artist = serializers.CharField(source="artist.slug")
    question = serializers.CharField()
    kind = serializers.CharField()
    opens_at = serializers.DateTimeField()
    closes_at = serializers.DateTimeField()
    max_supports_per_fan = serializers.IntegerField()
    least_verification = serializers.CharField()
    hidden = serializers.DictField(child=serializers.IntegerField())
    proposals = AgencyProposalOutputSerializer(many=True)


def _member_artist(request, slug: str) -> Artist:
    artist = Artist.objects.select_related("agency").filter(slug=slug).first()
    if artist is None:
        raise DomainError(Code.NOT_FOUND, _("Not found."))
    check_agency_action(user=request.user, agency=artist.agency, least=Role.ANALYST)
    return artist


def _member_call(request, call_id: int) -> OpenCall:
    call = OpenCall.objects.select_related("artist", "artist__agency").filter(pk=call_id).first()
    if call is None:
        raise DomainError(Code.NOT_FOUND, _("Not found."))
    check_agency_action(user=request.user, agency=call.artist.agency, least=Role.ANALYST)
    return call


def _artist_data(artist: Artist) -> dict:
    artist.followers = selectors.follower_count(artist=artist)
    return AgencyArtistOutputSerializer(artist).data


def _call_data(call: OpenCall) -> dict:
    fields = ("id", "artist", "question", "kind", "opens_at", "closes_at", "max_supports_per_fan")
    return AgencyCallOutputSerializer(
        {
            **{name: getattr(call, name) for name in fields},
            "least_verification": call.least_verification,
            "hidden": selectors.hidden_counts(call=call),
            "proposals": list(selectors.all_proposals(call=call)[:1000]),
        }
    ).data


@write_limited
class ArtistListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="Artists of my agencies, with follower counts",
        responses={200: AgencyArtistOutputSerializer(many=True), **REFUSALS},
    )
    def get(self, request):
        check_agency_staff(user=request.user)
        agencies = agencies_of(user=request.user)
        artists = list(Artist.objects.filter(agency__in=agencies).select_related("agency")[:500])
        counts = selectors.follower_counts(artists=artists)
        for artist in artists:
            artist.followers = counts.get(artist.pk, 0)
        return Response(AgencyArtistOutputSerializer(artists, many=True).data)

    @extend_schema(
        summary="Add an artist",
        request={
            "application/json": AgencyArtistCreateInputSerializer,
            "multipart/form-data": AgencyArtistCreateInputSerializer,
        },
        responses={201: AgencyArtistOutputSerializer, **REFUSALS},
    )
    def post(self, request):
        # Who may act is asked before the body is validated: only the agency is read first.
        check_agency_staff(user=request.user, least=Role.MANAGER)
        body = request.data if isinstance(request.data, dict) else {}
        if not body.get("agency"):
            raise PollDataInvalid({"agency": [_("Required.")]})
        agency, _membership = agency_of_member(user=request.user, slug=str(body.get("agency", ""))[:80])
        check_agency_action(user=request.user, agency=agency, least=Role.MANAGER)
        payload = AgencyArtistCreateInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data, image = payload.split()
        data.pop("agency")
        artist = artist_services.artist_create(
            agency=agency, actor=request.user, data=data, image=image, ip_address=request._request.client_ip
        )
        return Response(_artist_data(artist), status=201)


@write_limited
class ArtistDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="An artist, with its follower count",
        responses={200: AgencyArtistOutputSerializer, **REFUSALS},
    )
    def get(self, request, slug: str):
        return Response(_artist_data(_member_artist(request, slug)))

    @extend_schema(
        summary="Change an artist",
        request={
            "application/json": AgencyArtistInputSerializer,
            "multipart/form-data": AgencyArtistInputSerializer,
        },
        responses={200: AgencyArtistOutputSerializer, **REFUSALS},
    )
    def patch(self, request, slug: str):
        artist = _member_artist(request, slug)
        check_agency_action(user=request.user, agency=artist.agency, least=Role.MANAGER)
        payload = AgencyArtistInputSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        data, image = payload.split()
        artist = artist_services.artist_update(
            artist=artist, actor=request.user, data=data, image=image, ip_address=request._request.client_ip
        )
        return Response(_artist_data(artist))


@write_limited
class PollArtistView(APIView):
    permission_classes = [IsAuthenticated]

    class PollArtistInputSerializer(serializers.Serializer):
        artist = serializers.SlugField(allow_null=True, help_text="An artist of the poll's agency, or null.")

    class PollArtistOutputSerializer(serializers.Serializer):
        poll = serializers.SlugField()
        artist = serializers.SlugField(allow_null=True)

    @extend_schema(
        summary="Set which artist a poll is about",
        request=PollArtistInputSerializer,
        responses={200: PollArtistOutputSerializer, **REFUSALS},
    )
    def put(self, request, slug: str):
        poll = Poll.objects.select_related("agency").filter(slug=slug).first()
        if poll is None:
            raise DomainError(Code.NOT_FOUND, _("Not found."))
        check_agency_action(user=request.user, agency=poll.agency, least=Role.MANAGER)
        payload = self.PollArtistInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        artist_slug = payload.validated_data["artist"]
        artist = None
        if artist_slug:
            artist = Artist.objects.filter(slug=artist_slug, agency=poll.agency).first()
            if artist is None:
                raise DomainError(Code.NOT_FOUND, _("No such artist."))
        poll = artist_services.poll_artist_set(
            poll=poll, artist=artist, actor=request.user, ip_address=request._request.client_ip
        )
        return Response({"poll": poll.slug, "artist": artist.slug if artist else None})


@write_limited
class CallListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="Calls for suggestions on an artist",
        responses={200: AgencyCallOutputSerializer(many=True), **REFUSALS},
    )
    def get(self, request, slug: str):
        artist = _member_artist(request, slug)
        return Response([_call_data(call) for call in artist.calls.all()[:100]])

    @extend_schema(
        summary="Open a call for suggestions",
        request=AgencyCallInputSerializer,
        responses={201: AgencyCallOutputSerializer, **REFUSALS},
    )
    def post(self, request, slug: str):
        artist = _member_artist(request, slug)
        check_agency_action(user=request.user, agency=artist.agency, least=Role.MANAGER)
        payload = AgencyCallInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        call = call_services.call_create(
            artist=artist, actor=request.user, data=payload.to_data(), ip_address=request._request.client_ip
        )
        return Response(_call_data(call), status=201)


@write_limited
class CallDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="A call with every proposal (hidden and merged ones too)",
        responses={200: AgencyCallOutputSerializer, **REFUSALS},
    )
    def get(self, request, call_id: int):
        return Response(_call_data(_member_call(request, call_id)))


@write_limited
class ProposalHideView(APIView):
    permission_classes = [IsAuthenticated]

    class ProposalHideInputSerializer(serializers.Serializer):
        reason = serializers.ChoiceField(choices=HiddenReason.choices)

    @extend_schema(
        summary="Hide a proposal with a reason",
        request=ProposalHideInputSerializer,
        responses={200: AgencyCallOutputSerializer, **REFUSALS},
    )
    def post(self, request, call_id: int, proposal_id: int):
        call = _member_call(request, call_id)
        check_agency_action(user=request.user, agency=call.artist.agency, least=Role.MANAGER, mfa=True)
        proposal = get_object_or_404(Proposal, call=call, pk=proposal_id)
        payload = self.ProposalHideInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        call_services.proposal_hide(
            proposal=proposal,
            actor=request.user,
            reason=payload.validated_data["reason"],
            ip_address=request._request.client_ip,
        )
        return Response(_call_data(call))


@write_limited
class ProposalMergeView(APIView):
    permission_classes = [IsAuthenticated]

    class ProposalMergeInputSerializer(serializers.Serializer):
        keep = serializers.IntegerField(min_value=1, max_value=MAX_ROW_ID)
        merge = serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=MAX_ROW_ID), min_length=1, max_length=100
        )

    @extend_schema(
        summary="Merge duplicates into one proposal",
        request=ProposalMergeInputSerializer,
        responses={200: AgencyCallOutputSerializer, **REFUSALS},
    )
    def post(self, request, call_id: int):
        call = _member_call(request, call_id)
        check_agency_action(user=request.user, agency=call.artist.agency, least=Role.MANAGER, mfa=True)
        payload = self.ProposalMergeInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        call_services.proposals_merge(
            call=call,
            keep_id=payload.validated_data["keep"],
            merge_ids=payload.validated_data["merge"],
            actor=request.user,
            ip_address=request._request.client_ip,
        )
        return Response(_call_data(call))


@write_limited
class ProposalPromoteView(APIView):
    permission_classes = [IsAuthenticated]

    class ProposalPromoteInputSerializer(serializers.Serializer):
        proposals = serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=MAX_ROW_ID), min_length=1, max_length=200
        )
        title = serializers.CharField(max_length=200, required=False)
        opens_at = serializers.DateTimeField(required=False)
        closes_at = serializers.DateTimeField(required=False)

    class PromotedPollOutputSerializer(serializers.Serializer):
        poll = serializers.SlugField()
        options = serializers.IntegerField()

    @extend_schema(
        summary="Promote proposals into options of a new draft poll",
        request=ProposalPromoteInputSerializer,
        responses={201: PromotedPollOutputSerializer, **REFUSALS},
    )
    def post(self, request, call_id: int):
        call = _member_call(request, call_id)
        check_agency_action(user=request.user, agency=call.artist.agency, least=Role.MANAGER)
        payload = self.ProposalPromoteInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        proposal_ids = data.pop("proposals")
        poll = call_services.proposals_promote(
            call=call,
            proposal_ids=proposal_ids,
            actor=request.user,
            data=data,
            ip_address=request._request.client_ip,
        )
        return Response({"poll": poll.slug, "options": poll.options.count()}, status=201)


@method_decorator(rate_limited("agency_read", methods=("GET",)), name="dispatch")
class CallSignalsView(APIView):
    permission_classes = [IsAuthenticated]

    class CallSignalsOutputSerializer(serializers.Serializer):
        call = serializers.IntegerField()
        clusters = ClusterOutputSerializer(many=True)

    @extend_schema(
        summary="Fraud signals of a call's supports (as for ballots)",
        responses={200: CallSignalsOutputSerializer, **REFUSALS},
    )
    def get(self, request, call_id: int):
        call = _member_call(request, call_id)
        clusters = call_services.call_signals(call=call, actor=request.user)
        return Response({"call": call.pk, "clusters": ClusterOutputSerializer(clusters, many=True).data})
