"""Role assignments and registry tokens of one registry: thin views over services/access.py.

Both need `administer` on the registry, for reading too (they say who can reach it). A token's
password is in the answer to its creation only; the database keeps its hash.
"""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from ..choices import RegistryPermission, RegistryRole
from ..models import RegistryToken, RoleAssignment
from ..services import access

ADMINISTER = RegistryPermission.ADMINISTER


class RoleAssignmentWriteSerializer(serializers.Serializer):
    user = serializers.CharField(max_length=150, help_text="A portal username.")
    role = serializers.CharField(max_length=16, help_text=f"One of: {', '.join(RegistryRole.values)}.")


class RoleAssignmentSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username", read_only=True)
    role = serializers.ChoiceField(choices=RegistryRole.choices, read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = RoleAssignment
        fields = ["id", "user", "role", "created_at", "url"]

    def get_url(self, assignment) -> str:
        return reverse("api:role-assignment-detail", kwargs={"name": assignment.registry.name, "pk": assignment.pk},
                       request=self.context.get("request"))


class TokenScopeEntrySerializer(serializers.Serializer):
    repository = serializers.CharField(help_text="'apps/web', 'apps/*' or '*', inside the registry.")
    actions = serializers.ListField(child=serializers.ChoiceField(choices=["pull", "push", "delete"]))


class RegistryTokenWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    # Shapes are checked by the service, so the API and any other caller get the same words.
    scope = serializers.JSONField(help_text='[{"repository": "apps/*", "actions": ["pull", "push"]}]')
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class RegistryTokenSerializer(serializers.ModelSerializer):
    username = serializers.SerializerMethodField()
    scope = TokenScopeEntrySerializer(many=True, read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)
    url = serializers.SerializerMethodField()

    class Meta:
        model = RegistryToken
        fields = ["name", "username", "scope", "expires_at", "last_used_at", "created_by", "created_at", "url"]

    def get_username(self, token) -> str:
        return access.registry_token_username(token)

    def get_url(self, token) -> str:
        return reverse("api:registry-token-detail", kwargs={"name": token.registry.name, "token": token.name},
                       request=self.context.get("request"))


class RegistryTokenCreatedSerializer(RegistryTokenSerializer):
    password = serializers.CharField(read_only=True, help_text="Shown only in this answer; keep it now.")

    class Meta(RegistryTokenSerializer.Meta):
        fields = [*RegistryTokenSerializer.Meta.fields, "password"]


class RoleAssignmentListView(APIView):
    registry_permissions = {"GET": ADMINISTER, "POST": ADMINISTER}

    @extend_schema(responses=RoleAssignmentSerializer(many=True))
    def get(self, request, name):
        assignments = access.role_assignment_list(registry=self.registry)
        return Response(RoleAssignmentSerializer(assignments, many=True, context={"request": request}).data)

    @extend_schema(request=RoleAssignmentWriteSerializer, responses={201: RoleAssignmentSerializer})
    def post(self, request, name):
        body = RoleAssignmentWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        assignment = access.role_assignment_create(registry=self.registry, username=body.validated_data["user"],
                                                   role=body.validated_data["role"], actor=request.user)
        data = RoleAssignmentSerializer(assignment, context={"request": request}).data
        return Response(data, status=status.HTTP_201_CREATED, headers={"Location": data["url"]})


class RoleAssignmentDetailView(APIView):
    registry_permissions = {"GET": ADMINISTER, "DELETE": ADMINISTER}

    @extend_schema(responses=RoleAssignmentSerializer)
    def get(self, request, name, pk):
        assignment = access.role_assignment_get(registry=self.registry, assignment_id=pk)
        return Response(RoleAssignmentSerializer(assignment, context={"request": request}).data)

    @extend_schema(responses={204: None})
    def delete(self, request, name, pk):
        assignment = access.role_assignment_get(registry=self.registry, assignment_id=pk)
        access.role_assignment_delete(assignment=assignment, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RegistryTokenListView(APIView):
    registry_permissions = {"GET": ADMINISTER, "POST": ADMINISTER}

    @extend_schema(responses=RegistryTokenSerializer(many=True))
    def get(self, request, name):
        tokens = access.registry_token_list(registry=self.registry)
        return Response(RegistryTokenSerializer(tokens, many=True, context={"request": request}).data)

    @extend_schema(request=RegistryTokenWriteSerializer, responses={201: RegistryTokenCreatedSerializer})
    def post(self, request, name):
        body = RegistryTokenWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        token, password = access.registry_token_create(registry=self.registry, created_by=request.user,
                                                       **body.validated_data)
        token.password = password  # for this one answer; never stored
        data = RegistryTokenCreatedSerializer(token, context={"request": request}).data
        return Response(data, status=status.HTTP_201_CREATED, headers={"Location": data["url"]})


class RegistryTokenDetailView(APIView):
    registry_permissions = {"GET": ADMINISTER, "DELETE": ADMINISTER}

    @extend_schema(responses=RegistryTokenSerializer)
    def get(self, request, name, token):
        token = access.registry_token_get(registry=self.registry, name=token)
        return Response(RegistryTokenSerializer(token, context={"request": request}).data)

    @extend_schema(responses={204: None})
    def delete(self, request, name, token):
        registry_token = access.registry_token_get(registry=self.registry, name=token)
        access.registry_token_delete(token=registry_token, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
