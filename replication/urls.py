from django.urls import path
from django.views.generic import RedirectView

from . import registry_views, views

app_name = "replication"

urlpatterns = [
    path("", RedirectView.as_view(url="/registries/", permanent=False), name="home"),
    path("registries/", views.RegistryListView.as_view(), name="registry-list"),
    path("registries/<str:name>/", views.RegistryDetailView.as_view(), name="registry-detail"),
    path("registries/<str:name>/sku/", views.RegistrySkuChangeView.as_view(), name="registry-change-sku"),
    path("registries/<str:name>/anonymous-pull/", views.RegistryAnonymousPullView.as_view(),
         name="registry-anonymous-pull"),
    path("registries/<str:name>/replications/", views.RegistryReplicationsView.as_view(),
         name="registry-replications"),
    path("registries/<str:name>/replications/create/", views.ReplicaCreateView.as_view(), name="replica-create"),
    path("registries/<str:name>/replications/<str:region>/delete/", views.ReplicaDeleteView.as_view(),
         name="replica-delete"),
    path("registries/<str:name>/replications/<str:region>/sync/", views.ReplicaSyncView.as_view(),
         name="replica-sync"),
    path("registries/<str:name>/replications/<str:region>/routing/", views.ReplicaRoutingView.as_view(),
         name="replica-routing"),
    # Health and self-repair (issue 11)
    path("registries/<str:name>/replications/<str:region>/force-delete/", views.ReplicaForceDeleteView.as_view(),
         name="replica-force-delete"),
]

# Webhooks, job history and registry delete (replication/registry_views.py)
urlpatterns += registry_views.urlpatterns
