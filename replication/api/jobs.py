"""GET /api/v1/registries/{name}/jobs/: the registry's job history, newest first, filtered and paginated."""
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.pagination import PageNumberPagination

from .. import selectors
from ..choices import JobKind, JobState, RegistryPermission
from ..models import ReplicationJob
from .serializers import JobSerializer


class JobHistorySerializer(JobSerializer):
    kind = serializers.ChoiceField(choices=JobKind.choices, read_only=True)
    trigger = serializers.SerializerMethodField(help_text="What set the job off, in words.")
    duration_seconds = serializers.SerializerMethodField(help_text="Start to finish (to now while it runs).")

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "trigger", "duration_seconds"]

    def get_trigger(self, job) -> str:
        return selectors.job_trigger(job)

    def get_duration_seconds(self, job) -> float | None:
        duration = selectors.job_duration_seconds(job)
        return None if duration is None else round(duration, 3)


class JobHistoryPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class RegistryJobListView(generics.ListAPIView):
    serializer_class = JobHistorySerializer
    pagination_class = JobHistoryPagination
    registry_permissions = {"GET": RegistryPermission.READ}

    @extend_schema(
        parameters=[
            OpenApiParameter("region", str, description="Only jobs that ran in this region (its name)."),
            OpenApiParameter("state", str, enum=JobState.values, description="Only jobs in this state."),
            OpenApiParameter("kind", str, enum=JobKind.values, description="Only jobs of this kind."),
        ],
        description="Every job of the registry (syncs, event copies and deletes, imports, purges), newest first.",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator: no request, no registry
            return ReplicationJob.objects.none()
        params = self.request.query_params
        return selectors.registry_job_list(registry=self.registry, region=params.get("region") or None,
                                           state=params.get("state") or None, kind=params.get("kind") or None)
