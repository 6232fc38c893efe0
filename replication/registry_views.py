"""Pages for what the API did alone before: a registry's webhooks (with their delivery log and redelivery),
its job history, and its deletion. Same services, selectors and permission checks as the API's routes
(services/access.py through views.registry_for_page), so both refuse the same input with the same words."""
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views import View

from . import selectors, services
from .choices import RegistryPermission, ReplicaStatus
from .exceptions import ServiceError
from .forms import JobFilterForm, RegistryDeleteForm, WebhookEditForm, WebhookEnabledForm, WebhookForm
from .models import Region, Webhook
from .services import webhooks as webhook_service
from .views import RegistryActionView, allowed_actions, parse, registry_for_page

DELIVERIES_ON_PAGE = 50  # the API serves up to 500
JOBS_PER_PAGE = 25


class RegistryPageView(LoginRequiredMixin, View):
    """A page about one registry: GET needs `page_permission`, POST `form_permission`."""

    page_permission = RegistryPermission.READ
    form_permission = RegistryPermission.MANAGE

    def registry(self, request, name):
        permission = self.page_permission if request.method == "GET" else self.form_permission
        return registry_for_page(request, name, permission)


def webhook_regions(registry) -> list[Region]:
    """Regions a webhook may be bound to: those with a replica that is not being deleted (the service's rule)."""
    return [replica.region for replica in registry.replicas.select_related("region").order_by("region__display_name")
            if replica.status != ReplicaStatus.DELETING]


def webhook_for_page(registry, name):
    try:
        return webhook_service.webhook_get(registry=registry, name=name)
    except ServiceError as error:
        raise Http404(error.message) from None


class WebhookListView(RegistryPageView):
    template_name = "replication/webhook_list.html"

    def get(self, request, name):
        registry = self.registry(request, name)
        return self.render_page(request, registry, WebhookForm(initial={"actions": ["push"], "enabled": True}))

    def post(self, request, name):
        registry = self.registry(request, name)
        form = WebhookForm(request.POST)
        if form.is_valid():
            try:
                webhook = webhook_service.webhook_create(registry=registry, actor=request.user,
                                                         **form.service_arguments())
            except ServiceError as error:
                form.add_service_error(error)
            else:
                messages.success(request, f"Webhook '{webhook.name}' created: {', '.join(webhook.actions)} events in "
                                          f"{webhook.region.display_name} go to {webhook_service.webhook_service_uri_host(webhook)}.")
                return redirect("replication:webhook-detail", name=registry.name, webhook=webhook.name)
        return self.render_page(request, registry, form, status=400)

    def render_page(self, request, registry, form, status=200):
        form.set_region_choices(webhook_regions(registry))
        return render(request, self.template_name, {
            **allowed_actions(request, registry), "registry": registry, "form": form,
            "webhook_rows": webhook_service.webhook_panel(registry=registry, deliveries_per_webhook=1),
        }, status=status)


class WebhookDetailView(RegistryPageView):
    """One webhook: its settings (an edit form for those who may manage), actions, and its delivery log."""

    template_name = "replication/webhook_detail.html"

    def get(self, request, name, webhook):
        registry = self.registry(request, name)
        webhook = webhook_for_page(registry, webhook)
        return self.render_page(request, registry, webhook, WebhookEditForm(initial={
            "region": webhook.region.name, "actions": list(webhook.actions), "scope": webhook.scope,
            "enabled": webhook.enabled}))

    def post(self, request, name, webhook):
        registry = self.registry(request, name)
        webhook = webhook_for_page(registry, webhook)
        form = WebhookEditForm(request.POST)
        if form.is_valid():
            try:
                webhook = webhook_service.webhook_update(webhook=webhook, actor=request.user,
                                                         **form.service_arguments())
            except ServiceError as error:
                form.add_service_error(error)
                webhook.refresh_from_db()  # the page shows what is stored, not the refused change
            else:
                messages.success(request, f"Webhook '{webhook.name}' saved.")
                return redirect("replication:webhook-detail", name=registry.name, webhook=webhook.name)
        return self.render_page(request, registry, webhook, form, status=400)

    def render_page(self, request, registry, webhook, form, status=200):
        form.set_region_choices(webhook_regions(registry))
        return render(request, self.template_name, {
            **allowed_actions(request, registry), "registry": registry, "webhook": webhook, "form": form,
            "service_uri_host": webhook_service.webhook_service_uri_host(webhook),
            "custom_header_names": sorted(webhook.custom_headers),
            "deliveries": list(webhook_service.webhook_delivery_list(webhook=webhook, limit=DELIVERIES_ON_PAGE)),
            "deliveries_shown": DELIVERIES_ON_PAGE,
        }, status=status)


class WebhookDeleteView(RegistryPageView):
    """GET: the confirmation (manage, as the delete itself); POST: delete."""

    page_permission = RegistryPermission.MANAGE

    def get(self, request, name, webhook):
        registry = self.registry(request, name)
        webhook = webhook_for_page(registry, webhook)
        return render(request, "replication/webhook_delete.html", {
            "registry": registry, "webhook": webhook, "delivery_count": webhook.deliveries.count(),
            "service_uri_host": webhook_service.webhook_service_uri_host(webhook)})

    def post(self, request, name, webhook):
        registry = self.registry(request, name)
        webhook = webhook_for_page(registry, webhook)
        webhook_service.webhook_delete(webhook=webhook, actor=request.user)
        messages.success(request, f"Webhook '{webhook.name}' deleted with its delivery log.")
        return redirect("replication:webhook-list", name=registry.name)


class WebhookActionView(RegistryActionView):
    """A POST about one webhook; back to the webhook's page unless the form says where."""

    def back_url(self, request, registry) -> str:
        back = super().back_url(request, registry)
        if back != reverse(self.default_back, kwargs={"name": registry.name}):
            return back
        webhook = request.resolver_match.kwargs.get("webhook")
        if Webhook.objects.filter(registry=registry, name__iexact=webhook).exists():
            return reverse("replication:webhook-detail", kwargs={"name": registry.name, "webhook": webhook})
        return reverse("replication:webhook-list", kwargs={"name": registry.name})


class WebhookPingView(WebhookActionView):
    def perform(self, request, registry, webhook):
        webhook = webhook_service.webhook_get(registry=registry, name=webhook)
        delivery = webhook_service.webhook_ping(webhook=webhook, actor=request.user)
        return f"Ping {delivery.pk} to '{webhook.name}' queued; its result shows in the delivery log."


class WebhookEnabledView(WebhookActionView):
    def perform(self, request, registry, webhook):
        enabled = parse(WebhookEnabledForm, request.POST)["enabled"]
        webhook = webhook_service.webhook_get(registry=registry, name=webhook)
        webhook = webhook_service.webhook_update(webhook=webhook, enabled=enabled, actor=request.user)
        if enabled:
            return f"Webhook '{webhook.name}' is enabled: its events are sent."
        return f"Webhook '{webhook.name}' is disabled: no events are sent until it is enabled (a ping still is)."


class WebhookRedeliverView(WebhookActionView):
    def perform(self, request, registry, webhook, delivery):
        webhook = webhook_service.webhook_get(registry=registry, name=webhook)
        original = webhook_service.webhook_delivery_get(webhook=webhook, delivery_id=delivery)
        again = webhook_service.webhook_redeliver(delivery=original, actor=request.user)
        return f"Delivery {original.pk} is being sent again as delivery {again.pk}."


class RegistryJobListView(RegistryPageView):
    """The registry's job history, filtered by region, state and kind, newest first, paginated."""

    def get(self, request, name):
        registry = self.registry(request, name)
        form = JobFilterForm(request.GET)
        regions = selectors.registry_job_regions(registry=registry)
        chosen = Region.objects.filter(name=request.GET.get("region") or "").exclude(pk__in=[r.pk for r in regions])
        form.set_region_choices([*regions, *chosen])  # a region without jobs stays shown as chosen
        jobs, status = [], 200
        if form.is_valid():
            try:
                jobs = selectors.registry_job_list(registry=registry, **{k: v or None for k, v in
                                                                         form.cleaned_data.items()})
            except ServiceError as error:
                form.add_service_error(error)
                status = 400
        else:
            status = 400
        page = Paginator(jobs, JOBS_PER_PAGE).get_page(request.GET.get("page"))
        for job in page.object_list:
            job.trigger = selectors.job_trigger(job)
            job.duration_seconds = selectors.job_duration_seconds(job)
            job.scrub_summary = selectors.job_scrub_summary(job)
        query = request.GET.copy()
        query.pop("page", None)
        return render(request, "replication/registry_jobs.html", {
            **allowed_actions(request, registry), "registry": registry, "form": form, "page": page,
            "filter_query": query.urlencode(), "filtered": any(form.data.get(k) for k in form.fields),
        }, status=status)


class RegistryDeleteView(RegistryPageView):
    """GET: what deleting the registry purges, and a box for its name (owners); POST: delete."""

    page_permission = form_permission = RegistryPermission.ADMINISTER
    template_name = "replication/registry_delete.html"

    def get(self, request, name):
        registry = self.registry(request, name)
        return self.render_page(request, registry, RegistryDeleteForm(registry=registry))

    def post(self, request, name):
        registry = self.registry(request, name)
        form = RegistryDeleteForm(request.POST, registry=registry)
        if form.is_valid():
            summary = selectors.registry_delete_summary(registry=registry)
            services.registry_delete(registry=registry, actor=request.user)
            messages.success(request, f"Registry '{registry.name}' deleted; its content is being purged in "
                                      f"{len(summary.regions)} region(s).")
            return redirect("replication:registry-list")
        return self.render_page(request, registry, form, status=400)

    def render_page(self, request, registry, form, status=200):
        return render(request, self.template_name, {
            "registry": registry, "form": form, "summary": selectors.registry_delete_summary(registry=registry),
        }, status=status)


urlpatterns = [
    path("registries/<str:name>/delete/", RegistryDeleteView.as_view(), name="registry-delete"),
    path("registries/<str:name>/jobs/", RegistryJobListView.as_view(), name="registry-jobs"),
    path("registries/<str:name>/webhooks/", WebhookListView.as_view(), name="webhook-list"),
    path("registries/<str:name>/webhooks/<str:webhook>/", WebhookDetailView.as_view(), name="webhook-detail"),
    path("registries/<str:name>/webhooks/<str:webhook>/delete/", WebhookDeleteView.as_view(), name="webhook-delete"),
    path("registries/<str:name>/webhooks/<str:webhook>/ping/", WebhookPingView.as_view(), name="webhook-ping"),
    path("registries/<str:name>/webhooks/<str:webhook>/enabled/", WebhookEnabledView.as_view(),
         name="webhook-enabled"),
    path("registries/<str:name>/webhooks/<str:webhook>/deliveries/<int:delivery>/redeliver/",
         WebhookRedeliverView.as_view(), name="webhook-redeliver"),
]
