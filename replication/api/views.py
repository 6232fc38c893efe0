"""Thin API views: parse, call a service or selector, serialize."""
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors, services
from ..choices import RegistryPermission
from ..models import Region, ReplicationJob, Sku
from ..services import access
from ..services.regions import region_availability
from .serializers import (
    EndpointsSerializer,
    JobSerializer,
    RegionSerializer,
    RegistryCreateSerializer,
    RegistrySerializer,
    RegistryUpdateSerializer,
    ReplicaCreateSerializer,
    ReplicaSerializer,
    ReplicaUpdateSerializer,
    SkuSerializer,
)


def job_accepted_response(job, request) -> Response:
    """202 for work queued as a job: the job in the body, its URL in Location."""
    data = JobSerializer(job, context={"request": request}).data
    return Response(data, status=status.HTTP_202_ACCEPTED, headers={"Location": data["url"]})


class RegionListView(generics.ListAPIView):
    serializer_class = RegionSerializer
    queryset = Region.objects.select_related("paired_region", "health")
    pagination_class = None

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["availability"] = region_availability(Region.objects.exclude(endpoint=""))
        return context


class RegionDetailView(generics.RetrieveAPIView):
    serializer_class = RegionSerializer
    queryset = Region.objects.select_related("paired_region", "health")
    lookup_field = "name"

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["availability"] = region_availability(Region.objects.filter(name=self.kwargs["name"]))
        return context


class SkuListView(generics.ListAPIView):
    serializer_class = SkuSerializer
    queryset = Sku.objects.all()
    pagination_class = None


class RegistryListView(APIView):
    @extend_schema(responses=RegistrySerializer(many=True))
    def get(self, request):
        registries = selectors.registry_list(user=request.user)
        return Response(RegistrySerializer(registries, many=True, context={"request": request}).data)

    @extend_schema(request=RegistryCreateSerializer, responses={201: RegistrySerializer})
    def post(self, request):
        body = RegistryCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        registry = services.registry_create(owner=request.user, **body.validated_data)
        return Response(RegistrySerializer(registry, context={"request": request}).data,
                        status=status.HTTP_201_CREATED)


class RegistryDetailView(APIView):
    registry_permissions = {"GET": RegistryPermission.READ, "PATCH": RegistryPermission.MANAGE,
                            "DELETE": RegistryPermission.ADMINISTER}

    @extend_schema(responses=RegistrySerializer)
    def get(self, request, name):
        registry = services.registry_get(name=name)
        return Response(RegistrySerializer(registry, context={"request": request}).data)

    @extend_schema(request=RegistryUpdateSerializer, responses=RegistrySerializer)
    def patch(self, request, name):
        registry = services.registry_get(name=name)
        body = RegistryUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if "anonymous_pull" in body.validated_data:  # more than the SKU's manage: it opens the registry to all
            access.registry_require(user=request.user, registry=registry, permission=RegistryPermission.ADMINISTER)
        registry = services.registry_update(registry=registry, actor=request.user, **body.validated_data)
        return Response(RegistrySerializer(registry, context={"request": request}).data)

    @extend_schema(responses={204: None})
    def delete(self, request, name):
        services.registry_delete(registry=services.registry_get(name=name), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReplicaListView(APIView):
    registry_permissions = {"GET": RegistryPermission.READ, "POST": RegistryPermission.MANAGE}

    @extend_schema(responses=ReplicaSerializer(many=True))
    def get(self, request, name):
        registry = services.registry_get(name=name)
        replicas = selectors.replica_list(registry=registry)
        return Response(ReplicaSerializer(replicas, many=True, context={"request": request}).data)

    @extend_schema(request=ReplicaCreateSerializer,
                   responses={202: OpenApiResponse(ReplicaSerializer, description="Replica recorded; sync queued.")})
    def post(self, request, name):
        registry = services.registry_get(name=name)
        body = ReplicaCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        replica, job = services.replica_create(registry=registry, region=body.validated_data["region"],
                                              actor=request.user)
        data = ReplicaSerializer(replica, context={"request": request}).data
        job_url = data["latest_job"]["url"] if data["latest_job"] else None
        return Response(data, status=status.HTTP_202_ACCEPTED, headers={"Location": job_url} if job_url else None)


class ReplicaDetailView(APIView):
    registry_permissions = {"GET": RegistryPermission.READ, "PATCH": RegistryPermission.MANAGE,
                            "DELETE": RegistryPermission.MANAGE}

    @extend_schema(responses=ReplicaSerializer)
    def get(self, request, name, region):
        replica = services.replica_get(registry=services.registry_get(name=name), region=region)
        return Response(ReplicaSerializer(replica, context={"request": request}).data)

    @extend_schema(request=ReplicaUpdateSerializer, responses=ReplicaSerializer)
    def patch(self, request, name, region):
        replica = services.replica_get(registry=services.registry_get(name=name), region=region)
        body = ReplicaUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        replica = services.replica_set_endpoint_enabled(
            replica=replica, enabled=body.validated_data["region_endpoint_enabled"], actor=request.user
        )
        return Response(ReplicaSerializer(replica, context={"request": request}).data)

    @extend_schema(responses={202: ReplicaSerializer})
    def delete(self, request, name, region):
        replica = services.replica_get(registry=services.registry_get(name=name), region=region)
        services.replica_delete(replica=replica, actor=request.user)
        return Response(ReplicaSerializer(replica, context={"request": request}).data,
                        status=status.HTTP_202_ACCEPTED)


class ReplicaSyncView(APIView):
    registry_permissions = {"POST": RegistryPermission.MANAGE}

    @extend_schema(request=None, responses={202: JobSerializer})
    def post(self, request, name, region):
        replica = services.replica_get(registry=services.registry_get(name=name), region=region)
        return job_accepted_response(services.replica_resync(replica=replica, actor=request.user), request)


class ReplicaForceDeleteView(APIView):
    """Owners only: the replica goes at once, whatever its region answers; its content is purged when it can be."""

    registry_permissions = {"POST": RegistryPermission.ADMINISTER}

    @extend_schema(request=None, responses={204: OpenApiResponse(description="Replica removed; purge queued.")})
    def post(self, request, name, region):
        replica = services.replica_get(registry=services.registry_get(name=name), region=region)
        services.replica_delete(replica=replica, actor=request.user, force=True)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RegistryEndpointsView(APIView):
    registry_permissions = {"GET": RegistryPermission.READ}

    @extend_schema(responses=EndpointsSerializer)
    def get(self, request, name):
        registry = services.registry_get(name=name)
        return Response(selectors.registry_endpoints(registry=registry))


class JobDetailView(generics.RetrieveAPIView):
    """A job follows its registry: who may read the registry may read its jobs."""

    serializer_class = JobSerializer
    queryset = ReplicationJob.objects.all()  # for the schema's path parameter; get_object checks access
    registry_permissions = {"GET": RegistryPermission.READ}

    def check_registry_access(self, *, request, permission):
        self.job = access.job_get_for(user=request.user, job_id=self.kwargs["pk"], permission=permission)

    def get_object(self):
        return self.job
