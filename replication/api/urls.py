from django.urls import path
from . import events as continuous_replication
from . import access, activity, imports, jobs, scrubs, views, webhooks
from .replication_metrics import RegistryMetricsView
from .auth import AuthTokenView

app_name = "api"

urlpatterns = [
    path("auth/token/", AuthTokenView.as_view(), name="auth-token"),
    path("regions/", views.RegionListView.as_view(), name="region-list"),
    path("regions/<str:name>/", views.RegionDetailView.as_view(), name="region-detail"),
    path("skus/", views.SkuListView.as_view(), name="sku-list"),
    path("registries/", views.RegistryListView.as_view(), name="registry-list"),
    path("registries/<str:name>/", views.RegistryDetailView.as_view(), name="registry-detail"),
    path("registries/<str:name>/replicas/", views.ReplicaListView.as_view(), name="replica-list"),
    path("registries/<str:name>/replicas/<str:region>/", views.ReplicaDetailView.as_view(), name="replica-detail"),
    path("registries/<str:name>/replicas/<str:region>/sync/", views.ReplicaSyncView.as_view(), name="replica-sync"),
    path("registries/<str:name>/replicas/<str:region>/scrubs/", scrubs.ReplicaScrubListView.as_view(),
         name="replica-scrub-list"),
    path("registries/<str:name>/replicas/<str:region>/scrubs/<int:pk>/", scrubs.ReplicaScrubDetailView.as_view(),
         name="replica-scrub-detail"),
    path("registries/<str:name>/endpoints/", views.RegistryEndpointsView.as_view(), name="registry-endpoints"),
    path("registries/<str:name>/import/", imports.ImportView.as_view(), name="registry-import"),
    path("jobs/<int:pk>/", views.JobDetailView.as_view(), name="job-detail"),
    path("registries/<str:name>/webhooks/", webhooks.WebhookListView.as_view(), name="webhook-list"),
    path("registries/<str:name>/webhooks/<str:webhook>/", webhooks.WebhookDetailView.as_view(), name="webhook-detail"),
    path("registries/<str:name>/webhooks/<str:webhook>/ping/", webhooks.WebhookPingView.as_view(),
         name="webhook-ping"),
    path("registries/<str:name>/webhooks/<str:webhook>/deliveries/", webhooks.WebhookDeliveryListView.as_view(),
         name="webhook-deliveries"),
    # Continuous replication
    path("events/", continuous_replication.RegistryEventsView.as_view(), name="registry-events"),
    path("registries/<str:name>/replication-status/", continuous_replication.ReplicationStatusView.as_view(),
         name="replication-status"),
    # Access
    path("registries/<str:name>/role-assignments/", access.RoleAssignmentListView.as_view(),
         name="role-assignment-list"),
    path("registries/<str:name>/role-assignments/<int:pk>/", access.RoleAssignmentDetailView.as_view(),
         name="role-assignment-detail"),
    path("registries/<str:name>/tokens/", access.RegistryTokenListView.as_view(), name="registry-token-list"),
    path("registries/<str:name>/tokens/<str:token>/", access.RegistryTokenDetailView.as_view(),
         name="registry-token-detail"),
    path("registries/<str:name>/activity/", activity.ActivityListView.as_view(), name="registry-activity"),
    # Health and self-repair (issue 11)
    path("registries/<str:name>/replicas/<str:region>/force-delete/", views.ReplicaForceDeleteView.as_view(),
         name="replica-force-delete"),

    # Metrics: the figures behind the registry page's charts
    path("registries/<str:name>/metrics/", RegistryMetricsView.as_view(), name="registry-metrics"),

    # Job history and redelivery (the pages' jobs and webhooks views use the same selectors and services)
    path("registries/<str:name>/jobs/", jobs.RegistryJobListView.as_view(), name="registry-job-list"),
    path("registries/<str:name>/webhooks/<str:webhook>/deliveries/<int:delivery>/redeliver/",
         webhooks.WebhookRedeliverView.as_view(), name="webhook-redeliver"),
]
