"""The agency API's members, invitations and API tokens
(``/api/v1/agency/agencies/<slug>/…``, wired in polls/agency/api_urls.py).

Who may act is asked first, before the body is read: a caller without the role learns
nothing about what a valid request would look like. These endpoints are a person's
business: an API token is refused on all of them (``permission_denied``,
``reason: token_not_allowed``), whatever its scope.
"""

from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import api_tokens, members, selectors, services
from accounts.errors import AgencyActionRefused
from accounts.models import Agency, AgencyApiToken, Invitation, Membership, Role, TokenScope
from accounts.permissions import check_agency_action
from voting.errors import Code, ErrorSerializer
from voting.ratelimits import rate_limited

write_limited = rate_limited("agency_write")
read_limited = rate_limited("agency_read", methods=("GET",))

REFUSALS = dict.fromkeys((400, 401, 403, 404, 409, 429), ErrorSerializer)


def _agency(slug: str) -> Agency:
    agency = Agency.objects.filter(slug=slug).first()
    if agency is None:
        raise AgencyActionRefused(Code.NOT_FOUND, _("Not found."))
    return agency


def _check_member_reader(request, agency: Agency) -> None:
    check_agency_action(user=request.user, agency=agency, least=Role.ANALYST, human=True)


# ------------------------------------------------------------------ serializers


class MemberOutputSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email")
    name = serializers.CharField(source="user.public_name")

    class Meta:
        model = Membership
        fields = ["id", "email", "name", "role", "created_at"]


class MemberRoleInputSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class InvitationOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "created_at", "expires_at"]


class InvitationInputSerializer(serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices)


class ApiTokenOutputSerializer(serializers.ModelSerializer):
    created_by = serializers.SerializerMethodField()
    active = serializers.BooleanField(source="is_active")

    class Meta:
        model = AgencyApiToken
        fields = [
            "id",
            "name",
            "scope",
            "prefix",
            "active",
            "created_by",
            "created_at",
            "expires_at",
            "revoked_at",
            "last_used_at",
        ]

    def get_created_by(self, api_token: AgencyApiToken) -> str | None:
        return api_token.created_by.email if api_token.created_by else None


class ApiTokenCreatedOutputSerializer(ApiTokenOutputSerializer):
    token = serializers.CharField(help_text="The token itself: shown this once, never again.")

    class Meta(ApiTokenOutputSerializer.Meta):
        fields = [*ApiTokenOutputSerializer.Meta.fields, "token"]


class ApiTokenInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=80)
    scope = serializers.ChoiceField(choices=TokenScope.choices)
    lifetime_days = serializers.IntegerField(
        min_value=1, max_value=3650, required=False, help_text="Days until it expires (the server caps it)."
    )


# ------------------------------------------------------------------ views


class AgencyStaffView(APIView):
    permission_classes = [IsAuthenticated]


@method_decorator(read_limited, name="get")
class MemberListView(AgencyStaffView):
    @extend_schema(
        operation_id="v1_agency_members_list",
        summary="Members of your agency",
        responses={200: MemberOutputSerializer(many=True), **REFUSALS},
    )
    def get(self, request, slug: str):
        agency = _agency(slug)
        _check_member_reader(request, agency)
        return Response(MemberOutputSerializer(selectors.members_of(agency=agency), many=True).data)


@method_decorator(write_limited, name="patch")
@method_decorator(write_limited, name="delete")
class MemberDetailView(AgencyStaffView):
    @extend_schema(
        summary="Change a member's role (owners, MFA used, recent sign-in)",
        request=MemberRoleInputSerializer,
        responses={200: MemberOutputSerializer, **REFUSALS},
    )
    def patch(self, request, slug: str, member_id: int):
        agency = _agency(slug)
        members.check_member_management(actor=request.user, agency=agency)
        serializer = MemberRoleInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = members.member_role_change(
            agency=agency,
            actor=request.user,
            membership_id=member_id,
            role=serializer.validated_data["role"],
            ip_address=request.client_ip,
        )
        return Response(MemberOutputSerializer(membership).data)

    @extend_schema(
        summary="Remove a member (owners, MFA used, recent sign-in); never the last owner",
        responses={204: None, **REFUSALS},
    )
    def delete(self, request, slug: str, member_id: int):
        agency = _agency(slug)
        members.member_remove(
            agency=agency, actor=request.user, membership_id=member_id, ip_address=request.client_ip
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


@method_decorator(read_limited, name="get")
@method_decorator(write_limited, name="post")
class InvitationListView(AgencyStaffView):
    @extend_schema(
        operation_id="v1_agency_invitations_list",
        summary="Open invitations of your agency",
        responses={200: InvitationOutputSerializer(many=True), **REFUSALS},
    )
    def get(self, request, slug: str):
        agency = _agency(slug)
        _check_member_reader(request, agency)
        invitations = selectors.open_invitations_of(agency=agency)
        return Response(InvitationOutputSerializer(invitations, many=True).data)

    @extend_schema(
        summary="Invite an address to join with a role (owners, recent sign-in); mailed",
        request=InvitationInputSerializer,
        responses={201: InvitationOutputSerializer, **REFUSALS},
    )
    def post(self, request, slug: str):
        agency = _agency(slug)
        services.check_invitation_create(inviter=request.user, agency=agency)
        serializer = InvitationInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invitation, _token = services.invitation_create(
            agency=agency, inviter=request.user, ip_address=request.client_ip, **serializer.validated_data
        )
        return Response(InvitationOutputSerializer(invitation).data, status=status.HTTP_201_CREATED)


@method_decorator(write_limited, name="delete")
class InvitationDetailView(AgencyStaffView):
    @extend_schema(
        summary="Revoke an open invitation (owners, MFA used, recent sign-in)",
        responses={204: None, **REFUSALS},
    )
    def delete(self, request, slug: str, invitation_id: int):
        agency = _agency(slug)
        members.invitation_revoke(
            agency=agency, actor=request.user, invitation_id=invitation_id, ip_address=request.client_ip
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


@method_decorator(read_limited, name="get")
@method_decorator(write_limited, name="post")
class ApiTokenListView(AgencyStaffView):
    @extend_schema(
        operation_id="v1_agency_tokens_list",
        summary="API tokens of your agency (owners); never the tokens themselves",
        responses={200: ApiTokenOutputSerializer(many=True), **REFUSALS},
    )
    def get(self, request, slug: str):
        agency = _agency(slug)
        check_agency_action(user=request.user, agency=agency, least=Role.OWNER, human=True)
        return Response(ApiTokenOutputSerializer(api_tokens.tokens_of(agency=agency), many=True).data)

    @extend_schema(
        summary="Make an API token (owners, MFA used, recent sign-in); the answer shows it once",
        request=ApiTokenInputSerializer,
        responses={201: ApiTokenCreatedOutputSerializer, **REFUSALS},
    )
    def post(self, request, slug: str):
        agency = _agency(slug)
        api_tokens.check_token_management(actor=request.user, agency=agency)
        serializer = ApiTokenInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        api_token, token = api_tokens.api_token_create(
            agency=agency, actor=request.user, ip_address=request.client_ip, **serializer.validated_data
        )
        api_token.token = token
        response = Response(ApiTokenCreatedOutputSerializer(api_token).data, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


@method_decorator(write_limited, name="delete")
class ApiTokenDetailView(AgencyStaffView):
    @extend_schema(
        summary="Revoke an API token now (owners, MFA used, recent sign-in)",
        responses={204: None, **REFUSALS},
    )
    def delete(self, request, slug: str, token_id: int):
        agency = _agency(slug)
        api_tokens.api_token_revoke(
            agency=agency, actor=request.user, token_id=token_id, ip_address=request.client_ip
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
