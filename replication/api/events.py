"""Continuous replication over HTTP: the regions' event intake and the per-image replication status."""
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import services
from ..choices import RegistryPermission
from ..oci.constants import EVENTS_MEDIA_TYPE
from ..services import events, image_status
from ..services.region_secrets import region_events_authenticate
from .parsers import DepthLimitedJSONParser
from .status_serializers import EventIntakeResultSerializer, ImageReplicationStatusSerializer


class RegistryEventsParser(DepthLimitedJSONParser):
    """Distribution posts its notifications as JSON under its own media type."""

    media_type = EVENTS_MEDIA_TYPE


class RegistryEventsView(APIView):
    """POST /api/v1/events/: a regional registry's notifications, authenticated by its region's secret."""

    authentication_classes = []  # not a user: the Bearer token is the region's shared secret
    permission_classes = [AllowAny]
    parser_classes = [RegistryEventsParser, DepthLimitedJSONParser]

    @extend_schema(request={EVENTS_MEDIA_TYPE: dict, "application/json": dict},
                   responses={202: EventIntakeResultSerializer}, auth=[])
    def post(self, request):
        # Checked before the body is read, so an unauthenticated caller learns nothing from it.
        region = region_events_authenticate(region_name=request.headers.get("X-Region", ""),
                                            authorization=request.headers.get("Authorization"))
        if region is None:
            return Response({"detail": "A valid region token is required.", "code": "not_authenticated"},
                            status=status.HTTP_401_UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})
        result = events.events_record(region=region, body=request.data)
        return Response(EventIntakeResultSerializer(result).data, status=status.HTTP_202_ACCEPTED)


class ReplicationStatusView(APIView):
    registry_permissions = {"GET": RegistryPermission.READ}

    @extend_schema(parameters=[OpenApiParameter("repository", str, required=True),
                               OpenApiParameter("reference", str, required=True, description="A tag or a digest.")],
                   responses=ImageReplicationStatusSerializer)
    def get(self, request, name):
        registry = services.registry_get(name=name)
        body = image_status.image_replication_status(registry=registry,
                                                     repository=request.query_params.get("repository", ""),
                                                     reference=request.query_params.get("reference", ""))
        return Response(ImageReplicationStatusSerializer(body).data)
