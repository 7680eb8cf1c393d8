"""The signed-in account, for app clients (session or X-Session-Token)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import memberships_of
from accounts.verification import verification_level_of


class MeOutputSerializer(serializers.Serializer):
    email = serializers.EmailField()
    display_name = serializers.CharField()
    country = serializers.CharField()
    preferred_language = serializers.CharField()
    time_zone = serializers.CharField()
    verification_level = serializers.CharField()
    email_verified = serializers.BooleanField()
    agencies = serializers.ListField(child=serializers.DictField())


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MeOutputSerializer, summary="The signed-in account")
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
