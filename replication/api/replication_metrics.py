"""GET /api/v1/registries/{name}/metrics/?window=24h|7d: the figures behind the registry page's charts."""
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors, services
from ..choices import MetricsWindow, RegistryPermission


class RegionReplicationSeriesSerializer(serializers.Serializer):
    region = serializers.CharField()
    display_name = serializers.CharField()
    images_copied = serializers.ListField(child=serializers.IntegerField(),
                                          help_text="Per bucket: images that became complete here by a copy.")
    lag_seconds_mean = serializers.ListField(child=serializers.FloatField(allow_null=True),
                                             help_text="Per bucket: mean completed_at − pushed_at (null: no copy).")
    lag_seconds_max = serializers.ListField(child=serializers.FloatField(allow_null=True))


class ReplicationMetricsSerializer(serializers.Serializer):
    window = serializers.ChoiceField(choices=MetricsWindow.choices)
    bucket_seconds = serializers.IntegerField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    buckets = serializers.ListField(child=serializers.DateTimeField(), help_text="The start of each bucket.")
    regions = RegionReplicationSeriesSerializer(many=True)


class RegistryMetricsView(APIView):
    registry_permissions = {"GET": RegistryPermission.READ}

    @extend_schema(parameters=[OpenApiParameter("window", str, enum=MetricsWindow.values, default="24h",
                                                description="24h: hourly buckets; 7d: 6-hour buckets.")],
                   responses=ReplicationMetricsSerializer)
    def get(self, request, name):
        registry = services.registry_get(name=name)
        figures = selectors.registry_replication_metrics(registry=registry,
                                                         window=request.query_params.get("window", "24h"))
        return Response(ReplicationMetricsSerializer(figures).data)
