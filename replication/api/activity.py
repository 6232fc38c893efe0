"""GET /api/v1/registries/{name}/activity/: who changed what on a registry, newest first."""
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors
from ..choices import ActivityAction, ActivityActorKind, RegistryPermission
from ..models import ActivityRecord


class ActivityRecordSerializer(serializers.ModelSerializer):
    registry = serializers.CharField(source="registry_name", read_only=True)
    actor = serializers.CharField(source="actor_name", read_only=True,
                                  help_text="The user's name at the time; empty for the system.")
    actor_kind = serializers.ChoiceField(choices=ActivityActorKind.choices, read_only=True)
    action = serializers.ChoiceField(choices=ActivityAction.choices, read_only=True)
    detail = serializers.JSONField(read_only=True, help_text="Old and new values; never a secret.")

    class Meta:
        model = ActivityRecord
        fields = ["id", "registry", "action", "target", "actor", "actor_kind", "detail", "created_at"]


class ActivityListView(APIView):
    registry_permissions = {"GET": RegistryPermission.READ}

    @extend_schema(
        parameters=[
            OpenApiParameter("limit", int, description=f"How many, newest first (1-{selectors.ACTIVITY_LIMIT_MAX}, "
                                                       f"default {selectors.ACTIVITY_LIMIT_DEFAULT})."),
            OpenApiParameter("action", str, enum=ActivityAction.values, description="Only records of this action."),
        ],
        responses=ActivityRecordSerializer(many=True),
        description="Changes to the registry, newest first. Role and token changes are listed only for callers "
                    "who may manage roles and tokens (owners, staff).",
    )
    def get(self, request, name):
        records = selectors.activity_list(registry=self.registry, user=request.user,
                                          action=request.query_params.get("action") or None,
                                          limit=request.query_params.get("limit", selectors.ACTIVITY_LIMIT_DEFAULT))
        return Response(ActivityRecordSerializer(records, many=True).data)
