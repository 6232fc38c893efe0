"""POST /api/v1/registries/{name}/import/: import one image from any OCI registry, like `az acr import`."""
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from .. import services
from ..choices import RegistryPermission
from ..services.imports import image_import
from .serializers import JobSerializer
from .views import job_accepted_response


class ImportSourceSerializer(serializers.Serializer):
    registry_url = serializers.CharField(max_length=300, help_text="e.g. 'registry.example.com' or 'http://127.0.0.1:5000'")
    repository = serializers.CharField(max_length=255)
    reference = serializers.CharField(max_length=128, help_text="a tag, or a digest (sha256:...)")
    username = serializers.CharField(max_length=300, required=False, allow_blank=True)
    password = serializers.CharField(max_length=4000, required=False, allow_blank=True, write_only=True,
                                     style={"input_type": "password"})


class ImportSerializer(serializers.Serializer):
    source = ImportSourceSerializer()
    target_tags = serializers.ListField(child=serializers.CharField(max_length=400), required=False,
                                        help_text='["repository:tag", ...] inside the registry; default: the source\'s')


class ImportView(APIView):
    registry_permissions = {"POST": RegistryPermission.MANAGE}

    @extend_schema(request=ImportSerializer,
                   responses={202: OpenApiResponse(JobSerializer, description="Import queued in the home region.")})
    def post(self, request, name):
        registry = services.registry_get(name=name)
        body = ImportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        job = image_import(registry=registry, source=dict(body.validated_data["source"]),
                           target_tags=body.validated_data.get("target_tags") or [], actor=request.user)
        return job_accepted_response(job, request)
