"""The signed-in account, for app clients (session or X-Session-Token): who am I,
everything Encore holds about me, and deleting my account."""

from django.utils.decorators import method_decorator
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.data_rights import account_delete, personal_data_export
from accounts.selectors import memberships_of
from accounts.verification import verification_level_of
from voting.errors import ErrorSerializer
from voting.ratelimits import rate_limited


class MeOutputSerializer(serializers.Serializer):
    email = serializers.EmailField()
    display_name = serializers.CharField()
    country = serializers.CharField()
    preferred_language = serializers.CharField()
    time_zone = serializers.CharField()
    verification_level = serializers.CharField()
    email_verified = serializers.BooleanField()
    agencies = serializers.ListField(child=serializers.DictField())


class MeDeleteInputSerializer(serializers.Serializer):
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


REFUSALS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 429: ErrorSerializer}


@method_decorator(rate_limited("account_write"), name="delete")
class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: MeOutputSerializer, **REFUSALS}, summary="The signed-in account")
    def get(self, request):
        user = request.user
        level = verification_level_of(user)
        data = {
            "email": user.email,
            "display_name": user.display_name,
            "country": str(user.country or ""),
            "preferred_language": user.preferred_language,
            "time_zone": user.time_zone,
            "verification_level": level.value,
            "email_verified": level != "none",
            "agencies": [
                {"slug": m.agency.slug, "name": m.agency.name, "role": m.role}
                for m in memberships_of(user=user)
            ],
        }
        return Response(MeOutputSerializer(data).data)

    @extend_schema(
        summary="Delete my account",
        description=(
            'Send the account\'s password again as a JSON body, `{"password": "..."}` (OpenAPI '
            "3.0 cannot describe a DELETE's body). Deletes personal data (addresses, names, "
            "phone, sessions on every device, second factors, social logins, the raw "
            "addresses and fingerprints of ballots); the ballots stay, pseudonymous, so no "
            "count, published result or bulletin-board digest changes. Answers 204; "
            "`403 invalid_password` or `409 last_owner` leave everything as it was."
        ),
        request=MeDeleteInputSerializer,
        responses={204: None, **REFUSALS, 409: ErrorSerializer},
    )
    def delete(self, request):
        payload = MeDeleteInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        account_delete(user=request.user, password=payload.validated_data["password"])
        return Response(status=status.HTTP_204_NO_CONTENT)


# ------------------------------------------------------------------ the download's shape


class DataAccountSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    display_name = serializers.CharField()
    phone_number = serializers.CharField()
    phone_verified_at = serializers.DateTimeField(allow_null=True)
    trusted_at = serializers.DateTimeField(allow_null=True)
    verification_level = serializers.CharField()
    date_joined = serializers.DateTimeField()
    last_login = serializers.DateTimeField(allow_null=True)


class DataPreferencesSerializer(serializers.Serializer):
    country = serializers.CharField()
    preferred_language = serializers.CharField()
    time_zone = serializers.CharField()


class DataEmailAddressSerializer(serializers.Serializer):
    email = serializers.EmailField()
    verified = serializers.BooleanField()
    primary = serializers.BooleanField()


class DataSessionSerializer(serializers.Serializer):
    created_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField()
    ip = serializers.IPAddressField()
    user_agent = serializers.CharField()


class DataAuthenticatorSerializer(serializers.Serializer):
    type = serializers.CharField()
    created_at = serializers.DateTimeField()


class DataSocialAccountSerializer(serializers.Serializer):
    provider = serializers.CharField()
    uid = serializers.CharField()
    date_joined = serializers.DateTimeField()
    last_login = serializers.DateTimeField()
    extra_data = serializers.JSONField()


class DataMembershipSerializer(serializers.Serializer):
    agency = serializers.SlugField()
    name = serializers.CharField()
    role = serializers.CharField()
    since = serializers.DateTimeField()


class DataAgencyActionSerializer(serializers.Serializer):
    agency = serializers.SlugField()
    action = serializers.CharField()
    target_type = serializers.CharField()
    target_id = serializers.CharField()
    created_at = serializers.DateTimeField()
    ip_address = serializers.IPAddressField(allow_null=True)


class DataChoiceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField()
    rank = serializers.IntegerField()


class DataBallotSerializer(serializers.Serializer):
    """A ballot as polls/personal_data.py exports it (the polls app's section)."""

    poll = serializers.SlugField()
    poll_title = serializers.CharField()
    cast_at = serializers.DateTimeField()
    day = serializers.DateField()
    choices = DataChoiceSerializer(many=True)
    status = serializers.CharField(help_text="counted, quarantined or invalidated: the receipt's answer.")
    reason = serializers.CharField()
    receipt_hash = serializers.CharField(help_text="SHA-256 of the receipt code; the code is never kept.")
    checkpoint = serializers.IntegerField(allow_null=True)
    client_ip = serializers.IPAddressField(allow_null=True)
    client_network = serializers.CharField()
    client_fingerprint = serializers.CharField()


class PersonalDataOutputSerializer(serializers.Serializer):
    format = serializers.CharField()
    exported_at = serializers.DateTimeField()
    account = DataAccountSerializer()
    preferences = DataPreferencesSerializer()
    email_addresses = DataEmailAddressSerializer(many=True)
    sessions = DataSessionSerializer(many=True)
    mfa = DataAuthenticatorSerializer(many=True)
    social_accounts = DataSocialAccountSerializer(many=True)
    agencies = DataMembershipSerializer(many=True)
    agency_actions = DataAgencyActionSerializer(many=True)
    ballots = DataBallotSerializer(many=True)


@method_decorator(rate_limited("personal_data", methods=("GET",)), name="get")
class MeDataView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="Everything Encore holds about me",
        description=(
            "Account, preferences, email addresses, sessions, second factors (never their "
            "secrets), social logins, agency memberships and actions, and every ballot with "
            "its status and receipt hash (receipt codes are never kept)."
        ),
        responses={200: PersonalDataOutputSerializer, **REFUSALS},
    )
    def get(self, request):
        return Response(personal_data_export(user=request.user))
