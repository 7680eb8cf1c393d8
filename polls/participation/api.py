"""The fans' JSON API of participation: artists, follows, calls, proposals, supports,
and the city list proposals pick from."""

from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.fingerprint import client_fingerprint
from polls.api import PollOutputSerializer
from polls.participation import selectors, services
from polls.participation.cities import city_search
from voting.errors import Code, DomainError, ErrorSerializer
from voting.ratelimits import rate_limited

REFUSALS = dict.fromkeys((400, 401, 403, 404, 409, 429), ErrorSerializer)


class ArtistOutputSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()
    bio = serializers.CharField()
    agency = serializers.CharField(source="agency.slug")
    image = serializers.SerializerMethodField()

    def get_image(self, artist) -> str | None:
        if not artist.image:
            return None
        request = self.context.get("request")
        return request.build_absolute_uri(artist.image.url) if request else artist.image.url


class CallOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    artist = serializers.CharField(source="artist.slug")
    question = serializers.CharField()
    description = serializers.CharField()
    kind = serializers.CharField()
    opens_at = serializers.DateTimeField()
    closes_at = serializers.DateTimeField()
    is_open = serializers.BooleanField()
    max_supports_per_fan = serializers.IntegerField()
    least_verification = serializers.CharField()


class ArtistDetailOutputSerializer(ArtistOutputSerializer):
    open = PollOutputSerializer(many=True)
    upcoming = PollOutputSerializer(many=True)
    published = PollOutputSerializer(many=True)
    calls = CallOutputSerializer(many=True)
    following = serializers.BooleanField()


class ProposalOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField()
    supports = serializers.IntegerField(source="support_count")
    geoname_id = serializers.IntegerField(allow_null=True)
    country = serializers.CharField()
    latitude = serializers.FloatField(allow_null=True)
    longitude = serializers.FloatField(allow_null=True)
    population = serializers.IntegerField(allow_null=True)
    image = serializers.SerializerMethodField()

    def get_image(self, proposal) -> str | None:
        if not proposal.image:
            return None
        request = self.context.get("request")
        return request.build_absolute_uri(proposal.image.url) if request else proposal.image.url


class CallDetailOutputSerializer(CallOutputSerializer):
    proposals = ProposalOutputSerializer(many=True)
    hidden = serializers.DictField(child=serializers.IntegerField(), help_text="Hidden proposals by reason.")
    your_supports = serializers.ListField(child=serializers.IntegerField(), required=False)
    your_supports_left = serializers.IntegerField(required=False)


class FollowOutputSerializer(serializers.Serializer):
    artist = ArtistOutputSerializer()
    created_at = serializers.DateTimeField()


class CityOutputSerializer(serializers.Serializer):
    geoname_id = serializers.IntegerField()
    name = serializers.CharField()
    country = serializers.CharField()
    latitude = serializers.FloatField()
    longitude = serializers.FloatField()
    population = serializers.IntegerField()


def _artist_or_404(slug: str):
    artist = selectors.artist_by_slug(slug=slug)
    if artist is None:
        raise DomainError(Code.NOT_FOUND, _("No such artist."))
    return artist


def _call_or_404(call_id: int):
    call = selectors.call_by_id(call_id=call_id)
    if call is None:
        raise DomainError(Code.NOT_FOUND, _("No such call."))
    return call


def _client(request) -> services.Client:
    return services.Client(ip=request._request.client_ip, fingerprint=client_fingerprint(request))


class ArtistDetailView(APIView):
    @extend_schema(
        summary="An artist, its polls and open calls",
        responses={200: ArtistDetailOutputSerializer, 404: ErrorSerializer},
    )
    def get(self, request, slug: str):
        artist = _artist_or_404(slug)
        sections = selectors.artist_poll_sections(artist=artist)
        data = {
            **ArtistOutputSerializer(artist, context={"request": request}).data,
            "calls": CallOutputSerializer(selectors.artist_calls(artist=artist), many=True).data,
            "following": selectors.is_following(fan=request.user, artist=artist),
        }
        for name, polls in sections.items():
            data[name] = PollOutputSerializer(polls, many=True, context={"request": request}).data
        return Response(data)


@method_decorator(rate_limited("participate"), name="post")
@method_decorator(rate_limited("participate"), name="delete")
class FollowView(APIView):
    class FollowStateOutputSerializer(serializers.Serializer):
        artist = serializers.SlugField()
        following = serializers.BooleanField()

    @extend_schema(
        summary="Follow an artist", request=None, responses={200: FollowStateOutputSerializer, **REFUSALS}
    )
    def post(self, request, slug: str):
        if not request.user.is_authenticated:
            raise NotAuthenticated()
        artist = _artist_or_404(slug)
        services.follow_add(fan=request.user, artist=artist)
        return Response({"artist": artist.slug, "following": True})

    @extend_schema(
        summary="Stop following an artist",
        request=None,
        responses={200: FollowStateOutputSerializer, **REFUSALS},
    )
    def delete(self, request, slug: str):
        if not request.user.is_authenticated:
            raise NotAuthenticated()
        artist = _artist_or_404(slug)
        services.follow_remove(fan=request.user, artist=artist)
        return Response({"artist": artist.slug, "following": False})


class MyFollowsView(APIView):
    @extend_schema(
        summary="The artists I follow",
        responses={200: FollowOutputSerializer(many=True), 401: ErrorSerializer},
    )
    def get(self, request):
        if not request.user.is_authenticated:
            raise NotAuthenticated()
        follows = selectors.follows_of(fan=request.user)[:500]
        return Response(FollowOutputSerializer(follows, many=True, context={"request": request}).data)


class CallDetailView(APIView):
    @extend_schema(
        summary="A call for suggestions, its visible proposals, and hidden ones counted by reason",
        responses={200: CallDetailOutputSerializer, 404: ErrorSerializer},
    )
    def get(self, request, call_id: int):
        call = _call_or_404(call_id)
        data = {
            **CallOutputSerializer(call).data,
            "proposals": ProposalOutputSerializer(
                selectors.public_proposals(call=call)[:500], many=True, context={"request": request}
            ).data,
            "hidden": selectors.hidden_counts(call=call),
        }
        if request.user.is_authenticated:
            data["your_supports"] = sorted(selectors.supported_ids(call=call, fan=request.user))
            data["your_supports_left"] = selectors.supports_left(call=call, fan=request.user)
        return Response(data)


@method_decorator(rate_limited("participate"), name="post")
class ProposalCreateView(APIView):
    class ProposalInputSerializer(serializers.Serializer):
        text = serializers.CharField(
            max_length=200, required=False, help_text="A song or an idea; a design's title."
        )
        geoname_id = serializers.IntegerField(
            min_value=1, required=False, help_text="A city, from /api/v1/cities/."
        )
        city = serializers.CharField(
            max_length=100, required=False, help_text="A city's name, when no id is given."
        )
        image = serializers.ImageField(required=False, help_text="A design (multipart/form-data).")

    class ProposalCreatedOutputSerializer(serializers.Serializer):
        proposal = ProposalOutputSerializer()
        created = serializers.BooleanField(
            help_text="False when it was proposed already: you now support it."
        )

    @extend_schema(
        summary="Propose (and support) an option; the same one proposed already is supported instead",
        request={"application/json": ProposalInputSerializer, "multipart/form-data": ProposalInputSerializer},
        responses={201: ProposalCreatedOutputSerializer, 200: ProposalCreatedOutputSerializer, **REFUSALS},
    )
    def post(self, request, call_id: int):
        if not request.user.is_authenticated:
            raise NotAuthenticated()
        call = _call_or_404(call_id)
        payload = self.ProposalInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        proposal, created = services.proposal_create(
            call=call,
            fan=request.user,
            text=data.get("text"),
            geoname_id=data.get("geoname_id"),
            city_name=data.get("city"),
            image=data.get("image"),
            client=_client(request),
        )
        proposal.support_count = proposal.supports.count()
        body = {
            "proposal": ProposalOutputSerializer(proposal, context={"request": request}).data,
            "created": created,
        }
        return Response(body, status=201 if created else 200)


@method_decorator(rate_limited("participate"), name="post")
class SupportView(APIView):
    class SupportOutputSerializer(serializers.Serializer):
        proposal = serializers.IntegerField()
        supports_left = serializers.IntegerField()

    @extend_schema(
        summary="Support a proposal", request=None, responses={201: SupportOutputSerializer, **REFUSALS}
    )
    def post(self, request, call_id: int, proposal_id: int):
        if not request.user.is_authenticated:
            raise NotAuthenticated()
        call = _call_or_404(call_id)
        proposal = call.proposals.filter(pk=proposal_id).first()
        if proposal is None:
            raise DomainError(Code.NOT_FOUND, _("No such suggestion."))
        support = services.support_add(
            call=call, proposal=proposal, fan=request.user, client=_client(request)
        )
        left = selectors.supports_left(call=call, fan=request.user)
        return Response({"proposal": support.proposal_id, "supports_left": left}, status=201)


class CitySearchView(APIView):
    @extend_schema(
        summary="World cities matching a name (GeoNames), most populous first",
        parameters=[OpenApiParameter("q", OpenApiTypes.STR, required=True)],
        responses={200: CityOutputSerializer(many=True), 400: ErrorSerializer},
    )
    def get(self, request):
        query = request.query_params.get("q", "")[:100]
        return Response(CityOutputSerializer(city_search(query), many=True).data)
