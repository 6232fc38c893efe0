"""Regional webhooks in the API: thin views and serializers over services/webhooks.py.

service_uri, secret and custom header values are write-only: responses show service_uri_host
and custom_header_names instead.
"""
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from ..choices import WEBHOOK_SUBSCRIBABLE_ACTIONS, RegistryPermission, WebhookDeliveryState
from ..models import Webhook, WebhookDelivery
from ..services import registry_get
from ..services import webhooks as service

# Type checks only; every rule (names, URIs, actions, scopes, headers, limits) is in the service.


class WebhookWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    region = serializers.CharField(max_length=80)
    service_uri = serializers.CharField(max_length=4000, write_only=True)
    actions = serializers.ListField(child=serializers.CharField(max_length=40), allow_empty=True)
    scope = serializers.CharField(max_length=400, allow_blank=True, required=False, default="")
    custom_headers = serializers.DictField(child=serializers.CharField(allow_blank=True, trim_whitespace=False),
                                           required=False, default=dict, write_only=True)
    secret = serializers.CharField(max_length=400, trim_whitespace=False, write_only=True)
    enabled = serializers.BooleanField(required=False, default=True)


class WebhookUpdateSerializer(WebhookWriteSerializer):
    """PATCH: any of the fields except the name (the webhook's identity)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, partial=True, **kwargs)
        self.fields.pop("name")

    def validate(self, attrs):
        if "name" in self.initial_data:
            raise serializers.ValidationError({"name": "A webhook's name cannot be changed."})
        if not attrs:
            raise serializers.ValidationError("Give at least one field to change.")
        return attrs


class WebhookSerializer(serializers.ModelSerializer):
    registry = serializers.SlugRelatedField(slug_field="name", read_only=True)
    region = serializers.SlugRelatedField(slug_field="name", read_only=True)
    actions = serializers.ListField(child=serializers.ChoiceField(choices=[str(a) for a in
                                                                           WEBHOOK_SUBSCRIBABLE_ACTIONS]))
    service_uri_host = serializers.SerializerMethodField()
    custom_header_names = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    ping_url = serializers.SerializerMethodField()
    deliveries_url = serializers.SerializerMethodField()

    class Meta:
        model = Webhook
        fields = ["name", "registry", "region", "service_uri_host", "actions", "scope", "custom_header_names",
                  "enabled", "created_at", "updated_at", "url", "ping_url", "deliveries_url"]

    def get_service_uri_host(self, webhook) -> str:
        return service.webhook_service_uri_host(webhook)

    def get_custom_header_names(self, webhook) -> list[str]:
        return sorted(webhook.custom_headers)

    def _url(self, view_name, webhook) -> str:
        return reverse(view_name, kwargs={"name": webhook.registry.name, "webhook": webhook.name},
                       request=self.context.get("request"))

    def get_url(self, webhook) -> str:
        return self._url("api:webhook-detail", webhook)

    def get_ping_url(self, webhook) -> str:
        return self._url("api:webhook-ping", webhook)

    def get_deliveries_url(self, webhook) -> str:
        return self._url("api:webhook-deliveries", webhook)


class WebhookDeliverySerializer(serializers.ModelSerializer):
    webhook = serializers.CharField(source="webhook.name", read_only=True)
    state = serializers.ChoiceField(choices=WebhookDeliveryState.choices, read_only=True)
    redelivery_of = serializers.PrimaryKeyRelatedField(read_only=True,
                                                       help_text="The delivery this one sends again, if any.")

    class Meta:
        model = WebhookDelivery
        fields = ["id", "webhook", "event_id", "action", "state", "attempts", "request_body", "request_headers",
                  "response_status", "response_body", "error", "duration_ms", "attempt_log", "created_at",
                  "last_attempt_at", "next_attempt_at", "delivered_at", "redelivery_of"]


def _webhook(name, webhook):
    return service.webhook_get(registry=registry_get(name=name), name=webhook)


class WebhookListView(APIView):
    registry_permissions = {"GET": RegistryPermission.READ, "POST": RegistryPermission.MANAGE}

    @extend_schema(responses=WebhookSerializer(many=True))
    def get(self, request, name):
        webhooks = service.webhook_list(registry=registry_get(name=name))
        return Response(WebhookSerializer(webhooks, many=True, context={"request": request}).data)

    @extend_schema(request=WebhookWriteSerializer, responses={201: WebhookSerializer})
    def post(self, request, name):
        registry = registry_get(name=name)
        body = WebhookWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        webhook = service.webhook_create(registry=registry, actor=request.user, **body.validated_data)
        data = WebhookSerializer(webhook, context={"request": request}).data
        return Response(data, status=status.HTTP_201_CREATED, headers={"Location": data["url"]})


class WebhookDetailView(APIView):
    registry_permissions = {"GET": RegistryPermission.READ, "PATCH": RegistryPermission.MANAGE,
                            "DELETE": RegistryPermission.MANAGE}

    @extend_schema(responses=WebhookSerializer)
    def get(self, request, name, webhook):
        return Response(WebhookSerializer(_webhook(name, webhook), context={"request": request}).data)

    @extend_schema(request=WebhookUpdateSerializer, responses=WebhookSerializer)
    def patch(self, request, name, webhook):
        webhook = _webhook(name, webhook)
        body = WebhookUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        webhook = service.webhook_update(webhook=webhook, actor=request.user, **body.validated_data)
        return Response(WebhookSerializer(webhook, context={"request": request}).data)

    @extend_schema(responses={204: None})
    def delete(self, request, name, webhook):
        service.webhook_delete(webhook=_webhook(name, webhook), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookPingView(APIView):
    registry_permissions = {"POST": RegistryPermission.MANAGE}

    @extend_schema(request=None, responses={202: OpenApiResponse(WebhookDeliverySerializer,
                                                                 description="Ping delivery queued.")})
    def post(self, request, name, webhook):
        delivery = service.webhook_ping(webhook=_webhook(name, webhook), actor=request.user)
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookDeliveryListView(APIView):
    registry_permissions = {"GET": RegistryPermission.READ}

    @extend_schema(
        parameters=[OpenApiParameter("limit", int, description="How many, newest first (1-500, default 100).")],
        responses=WebhookDeliverySerializer(many=True),
    )
    def get(self, request, name, webhook):
        webhook = _webhook(name, webhook)
        limit = serializers.IntegerField(min_value=1, max_value=500).run_validation(
            request.query_params.get("limit", 100))
        deliveries = service.webhook_delivery_list(webhook=webhook, limit=limit)
        return Response(WebhookDeliverySerializer(deliveries, many=True).data)


class WebhookRedeliverView(APIView):
    registry_permissions = {"POST": RegistryPermission.MANAGE}

    @extend_schema(request=None, responses={202: OpenApiResponse(
        WebhookDeliverySerializer, description="A new delivery of the same body queued (409 while the delivery "
                                               "is still pending).")})
    def post(self, request, name, webhook, delivery):
        original = service.webhook_delivery_get(webhook=_webhook(name, webhook), delivery_id=delivery)
        again = service.webhook_redeliver(delivery=original, actor=request.user)
        return Response(WebhookDeliverySerializer(again).data, status=status.HTTP_202_ACCEPTED)
