from django.urls import path
from django.views.generic import RedirectView

from . import registry_views, views

app_name = "replication"

urlpatterns = [
    path("", RedirectView.as_view(url="/registries/", permanent=False), name="home"),
    path("registries/", views.RegistryListView.as_view(), name="registry-list"),
    path("registries/fragments/list/", views.RegistryListFragmentView.as_view(), name="fragment-registry-list"),
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
    path("registries/<str:name>/replications/<str:region>/scrub/", views.ReplicaScrubView.as_view(),
         name="replica-scrub"),
    path("registries/<str:name>/replications/<str:region>/routing/", views.ReplicaRoutingView.as_view(),
         name="replica-routing"),
    # Health and self-repair (issue 11)
    path("registries/<str:name>/replications/<str:region>/force-delete/", views.ReplicaForceDeleteView.as_view(),
         name="replica-force-delete"),

    # Live panels of the registry pages (views.RegistryFragmentView): one route per panel.
    path("registries/<str:name>/fragments/replicas/", views.RegistryFragmentView.as_view(panel="replicas"),
         name="fragment-replicas"),
    path("registries/<str:name>/fragments/replica-actions/",
         views.RegistryFragmentView.as_view(panel="replica-actions"), name="fragment-replica-actions"),
    path("registries/<str:name>/fragments/matrix/", views.RegistryFragmentView.as_view(panel="matrix"),
         name="fragment-matrix"),
    path("registries/<str:name>/fragments/activity/", views.RegistryFragmentView.as_view(panel="activity"),
         name="fragment-activity"),
    path("registries/<str:name>/fragments/add-replica/", views.RegistryFragmentView.as_view(panel="add-replica"),
         name="fragment-add-replica"),
    path("registries/<str:name>/fragments/map/", views.RegistryFragmentView.as_view(panel="map"),
         name="fragment-map"),
    path("registries/<str:name>/fragments/banner/", views.RegistryFragmentView.as_view(panel="banner"),
         name="fragment-banner"),
]

# Webhooks, job history and registry delete (replication/registry_views.py)
urlpatterns += registry_views.urlpatterns
