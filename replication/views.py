"""Portal pages: parse the request, call a service or selector, render.

Every rule lives in the services the REST API calls too, so a refusal reads the same in
both; a refusal here becomes a message on the page, never an error page.
"""
from dataclasses import dataclass
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied as PageForbidden
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import get_template
from django.templatetags.static import static
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from . import selectors, services
from .choices import RegionState, RegistryPermission
from .exceptions import InvalidInput, NotFound, PermissionDenied, ServiceError
from .forms import AnonymousPullForm, RegistryCreateForm, ReplicaCreateForm, RoutingForm, SkuChangeForm
from .maps import MapRegion, popup_digest, region_map_entry, render_region_map
from .models import Region, Registry, Sku
from .pricing import monthly_cost
from .readiness import readiness
from .services import access, scrub
from .services.image_status import registry_image_matrix

ACTIVITY_ON_PAGE = 20  # the overview's panel; the API serves up to 500


def registry_for_page(request, name: str, permission: RegistryPermission) -> Registry:
    """The registry if the user may do `permission` on it: 404 without a role (as for an unknown
    registry), 403 with a role too small; the same check as the API's (services.access)."""
    try:
        return access.registry_get_for(user=request.user, name=name, permission=permission)
    except NotFound as error:
        raise Http404(error.message) from None
    except PermissionDenied as error:
        raise PageForbidden(error.message) from None


def allowed_actions(request, registry: Registry) -> dict[str, bool]:
    """What the page may offer: a button the user may not use is not shown."""
    granted = access.registry_permissions(user=request.user, registry=registry)
    return {"can_manage": RegistryPermission.MANAGE in granted,
            "can_administer": RegistryPermission.ADMINISTER in granted}


def parse(form_class, data) -> dict:
    """The form's cleaned data, or InvalidInput with its first error (shown like a service's refusal)."""
    form = form_class(data)
    if form.is_valid():
        return form.cleaned_data
    field, errors = next(iter(form.errors.items()))
    message = errors[0] if field == "__all__" else f"{form.fields[field].label}: {errors[0]}"
    raise InvalidInput(message, field=field)


@dataclass(frozen=True)
class SkuOption:
    """One row of the SKU change form: the SKU and what this registry would cost on it."""

    sku: Sku
    monthly_per_region: Decimal
    monthly_total: Decimal
    difference: Decimal
    is_current: bool


def sku_options(*, registry: Registry, region_count: int) -> list[SkuOption]:
    current = monthly_cost(registry.sku.price_per_day_usd, region_count)
    options = []
    for sku in Sku.objects.all():
        total = monthly_cost(sku.price_per_day_usd, region_count)
        options.append(SkuOption(sku=sku, monthly_per_region=monthly_cost(sku.price_per_day_usd, 1),
                                 monthly_total=total, difference=total - current, is_current=sku.pk == registry.sku_id))
    return options


class RegistryListView(LoginRequiredMixin, View):
    template_name = "replication/registry_list.html"

    def get(self, request):
        return self.render_page(request, RegistryCreateForm(initial={"sku": "Premium"}))

    def post(self, request):
        form = RegistryCreateForm(request.POST)
        if form.is_valid():
            try:
                registry = services.registry_create(owner=request.user, **form.cleaned_data)
            except ServiceError as error:
                form.add_service_error(error)
            else:
                messages.success(request, f"Registry '{registry.name}' created, home {registry.home_region.display_name}.")
                return redirect("replication:registry-detail", name=registry.name)
        return self.render_page(request, form, status=400)

    def render_page(self, request, form, status=200):
        regions = list(Region.objects.all())
        availability = services.region_availability(regions)
        form.set_choices(skus=Sku.objects.all(), available_regions=[r for r in regions if availability[r.pk]])
        return render(request, self.template_name, {"registries": registries_with_costs(request.user), "form": form},
                      status=status)


def registries_with_costs(user) -> list[tuple[Registry, object]]:
    """The registries `user` may see, each with its health summary and monthly cost (the list and its panel)."""
    visible = selectors.registries_attach_health(list(selectors.registry_list(user=user)))
    return [(registry, selectors.registry_monthly_cost(registry)) for registry in visible]


class RegistryListFragmentView(LoginRequiredMixin, View):
    """The registry list's table alone, for the page's polling: health changes show without a reload."""

    http_method_names = ["get"]

    def get(self, request):
        response = render(request, "replication/_registry_table.html",
                          {"registries": registries_with_costs(request.user)})
        response["Cache-Control"] = "no-store"
        return response


class RegistryDetailView(LoginRequiredMixin, View):
    def get(self, request, name):
        registry = registry_for_page(request, name, RegistryPermission.READ)
        replicas = selectors.replica_list(registry=registry)
        return render(request, "replication/registry_detail.html", {
            **allowed_actions(request, registry),
            "registry": registry,
            "replicas": replicas,
            "login_server": selectors.registry_login_server(registry),
            "endpoints": selectors.registry_endpoints(registry=registry),
            "monthly_cost": selectors.registry_monthly_cost(registry, region_count=len(replicas)),
            "sku_options": sku_options(registry=registry, region_count=len(replicas)),
            "image_matrix": registry_image_matrix(registry=registry),  # replication/_image_matrix.html
            "activity": selectors.activity_list(registry=registry, user=request.user, limit=ACTIVITY_ON_PAGE),
        })


class RegistryReplicationsView(LoginRequiredMixin, View):
    """The map: one hexagon per region, popups with the actions that region allows; beside it the plain
    "Add replica" list with each region's plan."""

    def get(self, request, name):
        registry = registry_for_page(request, name, RegistryPermission.READ)
        allowed = allowed_actions(request, registry)
        region_views = selectors.registry_map_state(registry=registry)
        replicas = [view.replica for view in region_views if view.replica]
        plans = replica_plans_by_region(registry=registry, region_views=region_views)
        return render(request, "replication/registry_replications.html", {
            **allowed,
            "registry": registry,
            "replicas": replicas,
            "region_map": render_region_map(map_regions(request, registry, region_views, plans, allowed),
                                            static_path=static),
            "monthly_cost": monthly_cost(registry.sku.price_per_day_usd, len(replicas)),
            "available_count": sum(view.state == RegionState.AVAILABLE for view in region_views),
            "plans": list(plans.values()),
        })


def replica_plans_by_region(*, registry, region_views) -> dict:
    """The plan of a replica in each region where one could be added now (Premium, region available)."""
    if not registry.sku.geo_replication:
        return {}
    available = [view.region for view in region_views if view.state == RegionState.AVAILABLE]
    return {plan.region.pk: plan for plan in selectors.replica_plans(registry=registry, regions=available)}


def map_regions(request, registry, region_views, plans, allowed, *, popups_for=None) -> list[MapRegion]:
    """The map's regions with their popups (only those in `popups_for`, when given: the live update
    renders the open popup alone)."""
    popup = get_template("replication/_region_popup.html")
    page = reverse("replication:registry-replications", kwargs={"name": registry.name})
    regions = []
    for view in region_views:
        is_home = view.region.pk == registry.home_region_id
        popup_html = ""
        if popups_for is None or view.region.name in popups_for:
            popup_html = popup.render({
                **allowed, "view": view, "registry": registry, "is_home": is_home,
                "plan": plans.get(view.region.pk), "next": page,
            }, request)
        regions.append(MapRegion(
            name=view.region.name,
            display_name=view.region.display_name,
            latitude=view.region.latitude,
            longitude=view.region.longitude,
            state=view.state,
            tooltip=view.region.display_name + (" (home)" if is_home else ""),
            popup_html=popup_html,
            marker=view.map_state,
            state_text=(selectors.replica_map_state_text(replica=view.replica, map_state=view.map_state)
                        if view.replica else ""),
            progress=_progress(view),
            routing_off=bool(view.replica and not view.replica.region_endpoint_enabled),
        ))
    return regions


def _progress(view) -> int | None:
    job = view.replica and selectors.replica_latest_job(view.replica)
    return job.percent_done if job and job.bytes_total else None


class RegistryActionView(LoginRequiredMixin, View):
    """A POST that calls one service, then returns to the page it came from with a message."""

    http_method_names = ["post"]
    default_back = "replication:registry-replications"
    required_permission = RegistryPermission.MANAGE

    def perform(self, request, registry, **kwargs) -> str:
        """Call the service; return the success message (a ServiceError becomes the error message)."""
        raise NotImplementedError

    def post(self, request, name, **kwargs):
        # Unknown (or deleted since the page was loaded) and invisible registries get the same 404.
        registry = registry_for_page(request, name, self.required_permission)
        try:
            messages.success(request, self.perform(request, registry, **kwargs))
        except ServiceError as error:
            messages.error(request, error.message)
        return redirect(self.back_url(request, registry))

    def back_url(self, request, registry) -> str:
        back = request.POST.get("next", "")
        if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
            return back
        return reverse(self.default_back, kwargs={"name": registry.name})


class ReplicaCreateView(RegistryActionView):
    def perform(self, request, registry):
        region = parse(ReplicaCreateForm, request.POST)["region"]
        replica, _job = services.replica_create(registry=registry, region=region, actor=request.user)
        return f"Replica in {replica.region.display_name} created; its initial sync is queued."


class ReplicaDeleteView(RegistryActionView):
    def perform(self, request, registry, region):
        replica = services.replica_get(registry=registry, region=region)
        services.replica_delete(replica=replica, actor=request.user)
        return f"Replica in {replica.region.display_name} is being deleted."


class ReplicaForceDeleteView(RegistryActionView):
    required_permission = RegistryPermission.ADMINISTER  # owners: it gives up waiting for the region

    def perform(self, request, registry, region):
        replica = services.replica_get(registry=registry, region=region)
        services.replica_delete(replica=replica, actor=request.user, force=True)
        return (f"Replica in {replica.region.display_name} removed; its images there are purged "
                "whenever the region answers.")


class ReplicaSyncView(RegistryActionView):
    def perform(self, request, registry, region):
        replica = services.replica_get(registry=registry, region=region)
        services.replica_resync(replica=replica, actor=request.user)
        return f"A full sync of {replica.region.display_name} is queued."


class ReplicaScrubView(RegistryActionView):
    required_permission = RegistryPermission.ADMINISTER  # owners: it reads every byte of the region's storage

    def perform(self, request, registry, region):
        replica = services.replica_get(registry=registry, region=region)
        scrub.replica_scrub(replica=replica, actor=request.user)
        return (f"A scrub of {replica.region.display_name} is queued: every blob there is read and checked "
                "against its digest, and a corrupted one is copied again from a region whose copy verifies.")


class ReplicaRoutingView(RegistryActionView):
    def perform(self, request, registry, region):
        enabled = parse(RoutingForm, request.POST)["enabled"]
        replica = services.replica_set_endpoint_enabled(
            replica=services.replica_get(registry=registry, region=region), enabled=enabled, actor=request.user)
        state = "on" if enabled else "off"
        return f"Routing to {replica.region.display_name} is {state}."


class RegistrySkuChangeView(RegistryActionView):
    """A SKU change asks first: the page shows the new monthly cost, and only a second POST with `confirm`
    applies it (the API's PATCH applies at once). A change the service would refuse is refused at once."""

    default_back = "replication:registry-detail"

    def post(self, request, name, **kwargs):
        if request.POST.get("confirm"):
            return super().post(request, name, **kwargs)
        registry = registry_for_page(request, name, self.required_permission)
        try:
            new_sku = services.registry_sku_change_check(registry=registry, sku=parse(SkuChangeForm, request.POST)["sku"])
        except ServiceError as error:
            messages.error(request, error.message)
            return redirect(self.back_url(request, registry))
        if new_sku.pk == registry.sku_id:
            messages.success(request, f"The SKU is already {new_sku.name}; nothing changed.")
            return redirect(self.back_url(request, registry))
        region_count = registry.replicas.count()
        before, after = (monthly_cost(sku.price_per_day_usd, region_count) for sku in (registry.sku, new_sku))
        return render(request, "replication/registry_sku_confirm.html", {
            "registry": registry, "new_sku": new_sku, "region_count": region_count,
            "cost_before": before, "cost_after": after, "difference": after - before,
            "next": request.POST.get("next", ""),
        })

    def perform(self, request, registry):
        region_count = registry.replicas.count()
        before_sku, before_cost = registry.sku.name, monthly_cost(registry.sku.price_per_day_usd, region_count)
        registry = services.registry_change_sku(registry=registry, sku=parse(SkuChangeForm, request.POST)["sku"],
                                                 actor=request.user)
        after_cost = monthly_cost(registry.sku.price_per_day_usd, region_count)
        if registry.sku.name == before_sku:
            return f"The SKU is already {before_sku}; nothing changed."
        return (f"SKU changed from {before_sku} to {registry.sku.name}: "
                f"${before_cost:,} → ${after_cost:,} a month for {region_count} region(s).")


class RegistryAnonymousPullView(RegistryActionView):
    default_back = "replication:registry-detail"
    required_permission = RegistryPermission.ADMINISTER  # it opens the registry's images to everyone

    def perform(self, request, registry):
        enabled = parse(AnonymousPullForm, request.POST)["enabled"]
        services.registry_set_anonymous_pull(registry=registry, enabled=enabled, actor=request.user)
        if enabled:
            return f"Anonymous pull is on: anyone can pull from {registry.name} without credentials."
        return f"Anonymous pull is off: pulls from {registry.name} need credentials."


# ---- health checks for load balancers and orchestrators (no sign-in; nothing about registries) -----------------

def healthz(request):
    """The process answers: nothing else is checked (no database), so a restart is only asked for when it hangs."""
    return JsonResponse({"status": "ok"})


def readyz(request):
    """Ready for traffic: 200, or 503 naming each failed check (replication/readiness.py)."""
    results = readiness()
    ready = all(result.ok for result in results.values())
    body = {"status": "ok" if ready else "unavailable",
            "checks": {name: ({"ok": True} if result.ok else {"ok": False, "error": result.detail})
                       for name, result in results.items()}}
    return JsonResponse(body, status=200 if ready else 503)

# ---- live panels: a part of a page, rendered alone from the page's own template, for the page's polling
# (static/js/live_panels.js and region_map.js). Same access check as the page; never any network I/O.


class RegistryFragmentView(LoginRequiredMixin, View):
    """One panel of a registry page; `panel` is fixed per route (see urls.py)."""

    panel = ""
    http_method_names = ["get"]

    def get(self, request, name):
        registry = registry_for_page(request, name, RegistryPermission.READ)
        allowed = allowed_actions(request, registry)
        render_panel = getattr(self, "render_" + self.panel.replace("-", "_"))
        response = render_panel(request, registry, allowed)
        response["Cache-Control"] = "no-store"
        return response

    def render_replicas(self, request, registry, allowed):
        return render(request, "replication/_replica_table.html", {
            "registry": registry, "replicas": selectors.replica_list(registry=registry)})

    def render_replica_actions(self, request, registry, allowed):
        """The map page's variant of the table: with actions for managers, coming back to the map."""
        return render(request, "replication/_replica_table.html", {
            **allowed, "registry": registry, "replicas": selectors.replica_list(registry=registry),
            "show_actions": allowed["can_manage"],
            "next": reverse("replication:registry-replications", kwargs={"name": registry.name})})

    def render_matrix(self, request, registry, allowed):
        return render(request, "replication/_image_matrix.html", {
            "registry": registry, "image_matrix": registry_image_matrix(registry=registry)})

    def render_activity(self, request, registry, allowed):
        return render(request, "replication/_activity.html", {
            "registry": registry,
            "activity": selectors.activity_list(registry=registry, user=request.user, limit=ACTIVITY_ON_PAGE)})

    def render_add_replica(self, request, registry, allowed):
        region_views = selectors.registry_map_state(registry=registry)
        return render(request, "replication/_add_replica_list.html", {
            **allowed, "registry": registry,
            "plans": list(replica_plans_by_region(registry=registry, region_views=region_views).values()),
            "available_count": sum(view.state == RegionState.AVAILABLE for view in region_views)})

    def render_banner(self, request, registry, allowed):
        """The home-region outage banner of every registry page (empty while the home region answers)."""
        return render(request, "replication/_home_outage_banner.html", {
            "registry": registry, "outage": selectors.registry_home_outage(registry=registry)})

    def render_map(self, request, registry, allowed):
        """The hexagons' states as region_map.js applies them, and the open popup (?open=<region>) re-rendered."""
        region_views = selectors.registry_map_state(registry=registry)
        plans = replica_plans_by_region(registry=registry, region_views=region_views)
        open_name = request.GET.get("open", "")
        regions = map_regions(request, registry, region_views, plans, allowed, popups_for={open_name})
        open_region = next((region for region in regions if region.name == open_name and region.popup_html), None)
        return JsonResponse({
            "regions": [region_map_entry(region) for region in regions],
            "open": ({"name": open_region.name, "html": open_region.popup_html,
                      "digest": popup_digest(open_region.popup_html)} if open_region else None),
        })
