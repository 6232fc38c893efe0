"""GET/POST /api/v1/registries/{name}/replicas/{region}/scrubs/ and GET .../scrubs/{id}/: the replica's storage
scrubs ("Verify storage"): each run's counts and findings, and its job's state and progress."""
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from .. import selectors, services
from ..choices import JobState, RegistryPermission, ScrubFindingKind, ScrubOutcome, ScrubProblem
from ..models import ScrubRun
from ..services import scrub
from .serializers import JobSerializer


class ScrubFindingSerializer(serializers.Serializer):
    digest = serializers.CharField()
    kind = serializers.ChoiceField(choices=ScrubFindingKind.choices)
    problem = serializers.ChoiceField(choices=ScrubProblem.choices)
    size = serializers.IntegerField(help_text="Of a blob, as its manifest says (0 for a manifest).")
    repositories = serializers.ListField(child=serializers.CharField())
    outcome = serializers.ChoiceField(choices=ScrubOutcome.choices)
    source_region = serializers.CharField(help_text="The region whose verified copy repaired it (empty if none).")
    detail = serializers.CharField()


class ScrubRunSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    region = serializers.SlugRelatedField(slug_field="name", read_only=True)
    state = serializers.SerializerMethodField()
    summary = serializers.SerializerMethodField()
    findings = ScrubFindingSerializer(many=True, read_only=True)
    job = JobSerializer(read_only=True)

    class Meta:
        model = ScrubRun
        fields = ["id", "url", "region", "state", "trigger", "summary", "created_at", "finished_at",
                  "manifests_checked", "blobs_checked", "bytes_checked", "corrupt_found", "repaired", "unrecoverable",
                  "findings", "error", "job"]

    def get_url(self, run) -> str:
        return reverse("api:replica-scrub-detail", kwargs={"name": run.registry.name, "region": run.region.name,
                                                          "pk": run.pk}, request=self.context.get("request"))

    @extend_schema_field(serializers.ChoiceField(choices=JobState.choices))
    def get_state(self, run) -> str:
        """The job's state (queued, running, succeeded, failed, canceled); succeeded once recorded if it is gone."""
        return run.job.state if run.job is not None else JobState.SUCCEEDED if run.finished_at else JobState.QUEUED

    def get_summary(self, run) -> str:
        return selectors.scrub_summary(run)


class ReplicaScrubListView(APIView):
    """GET the replica's scrubs, newest first (the latest 50); POST queues one (owners) → 202."""

    registry_permissions = {"GET": RegistryPermission.READ, "POST": RegistryPermission.ADMINISTER}

    @extend_schema(responses=ScrubRunSerializer(many=True))
    def get(self, request, name, region):
        replica = services.replica_get(registry=services.registry_get(name=name), region=region)
        runs = selectors.replica_scrub_list(replica=replica)[:50]
        return Response(ScrubRunSerializer(runs, many=True, context={"request": request}).data)

    @extend_schema(request=None, responses={202: ScrubRunSerializer})
    def post(self, request, name, region):
        replica = services.replica_get(registry=services.registry_get(name=name), region=region)
        run = scrub.replica_scrub(replica=replica, actor=request.user)
        data = ScrubRunSerializer(run, context={"request": request}).data
        return Response(data, status=status.HTTP_202_ACCEPTED, headers={"Location": data["url"]})


class ReplicaScrubDetailView(APIView):
    registry_permissions = {"GET": RegistryPermission.READ}

    @extend_schema(responses=ScrubRunSerializer)
    def get(self, request, name, region, pk):
        replica = services.replica_get(registry=services.registry_get(name=name), region=region)
        run = scrub.scrub_run_get(replica=replica, scrub_id=pk)
        return Response(ScrubRunSerializer(run, context={"request": request}).data)
