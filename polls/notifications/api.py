"""The fan's notifications for app clients: list (paginated), mark read, mail choices.
Rendered in the fan's own language and time zone, whatever the request's headers."""

from django.utils.decorators import method_decorator
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from polls.notifications import selectors, services
from polls.notifications.models import NotificationKind
from polls.notifications.rendering import notification_render
from voting.errors import ErrorSerializer
from voting.ratelimits import rate_limited

REFUSALS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 429: ErrorSerializer}


class NotificationOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=NotificationKind.choices)
    object = serializers.CharField(source="object_key")
    title = serializers.CharField()
    body = serializers.CharField()
    url = serializers.CharField()
    language = serializers.CharField()
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, notification):
        rendered = notification_render(
            kind=notification.kind, params=notification.announcement.params, user=self.context["request"].user
        )
        notification.title, notification.body = rendered.title, rendered.body
        notification.url, notification.language = rendered.path, rendered.language
        return super().to_representation(notification)


class NotificationListView(ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = NotificationOutputSerializer

    @extend_schema(
        summary="My notifications, newest first",
        description="Each rendered in the fan's own language and time zone. `?page=` past the end is a 404.",
        responses={200: NotificationOutputSerializer(many=True), 404: ErrorSerializer, **REFUSALS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.inbox_of(user=self.request.user)


class MarkReadInputSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), required=False, max_length=500
    )
    all = serializers.BooleanField(required=False, default=False)

    def validate(self, data):
        if not data.get("all") and not data.get("ids"):
            raise serializers.ValidationError({"ids": ["Give ids, or all: true."]})
        return data


class MarkReadOutputSerializer(serializers.Serializer):
    marked = serializers.IntegerField()
    unread = serializers.IntegerField()


@method_decorator(rate_limited("notification_write"), name="post")
class MarkReadView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="Mark my notifications read",
        request=MarkReadInputSerializer,
        responses={200: MarkReadOutputSerializer, **REFUSALS},
    )
    def post(self, request):
        payload = MarkReadInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        ids = None if payload.validated_data["all"] else payload.validated_data["ids"]
        marked = services.notifications_mark_read(user=request.user, ids=ids)
        return Response({"marked": marked, "unread": selectors.unread_count(user=request.user)})


class PreferencesSerializer(serializers.Serializer):
    """``email``: for each kind, whether it also comes by mail."""

    email = serializers.DictField(child=serializers.BooleanField())

    def validate_email(self, value):
        unknown = sorted(set(value) - set(NotificationKind.values))
        if unknown:
            raise serializers.ValidationError(f"Unknown kinds: {', '.join(unknown)}.")
        return value


@method_decorator(rate_limited("notification_write"), name="patch")
class PreferencesView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="Which notifications come by mail", responses={200: PreferencesSerializer, **REFUSALS}
    )
    def get(self, request):
        return Response({"email": selectors.email_preferences_of(user=request.user)})

    @extend_schema(
        summary="Choose which notifications come by mail",
        request=PreferencesSerializer,
        responses={200: PreferencesSerializer, **REFUSALS},
    )
    def patch(self, request):
        payload = PreferencesSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.email_preferences_set(user=request.user, email_kinds=payload.validated_data["email"])
        return Response({"email": selectors.email_preferences_of(user=request.user)})
