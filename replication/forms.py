"""Portal forms. They only parse input: every rule lives in the services, which the API calls too,
so a refused input gets the same words in both places."""
from django import forms

from .choices import WEBHOOK_SUBSCRIBABLE_ACTIONS, JobKind, JobState
from .exceptions import InvalidInput, ServiceError


class ServiceForm(forms.Form):
    """A form that shows a service's refusal beside the field it names, or above the form."""

    def add_service_error(self, error: ServiceError) -> None:
        self.add_error(error.field if error.field in self.fields else None, error.message)


class RegistryCreateForm(ServiceForm):
    # Plain text fields behind the selects: a value outside the list reaches the service,
    # which answers it with the API's message rather than Django's "Select a valid choice".
    name = forms.CharField(
        label="Registry name", max_length=200,
        help_text="5 to 50 letters and digits, unique.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "contoso"}),
    )
    sku = forms.CharField(label="SKU", max_length=40, widget=forms.Select)
    home_region = forms.CharField(
        label="Home region", max_length=80, widget=forms.Select,
        help_text="Regions whose data plane answered its last health probe.",
    )

    def set_choices(self, *, skus, available_regions) -> None:
        """Fill the selects; only needed when the form is shown, not to parse a submission."""
        self.fields["sku"].widget.choices = [(sku.name, f"{sku.name}: ${sku.price_per_day_usd}/day") for sku in skus]
        self.fields["home_region"].widget.choices = [
            (region.name, f"{region.display_name} ({region.name})") for region in available_regions
        ]


class ReplicaCreateForm(forms.Form):
    region = forms.CharField(label="Region", max_length=80)


class SkuChangeForm(forms.Form):
    sku = forms.CharField(label="SKU", max_length=40)


class RoutingForm(forms.Form):
    """The on/off switch for routing pulls to a replica's region."""

    enabled = forms.TypedChoiceField(
        label="Routing", choices=[("true", "on"), ("false", "off")], coerce=lambda value: value == "true",
        error_messages={"invalid_choice": "Choose 'true' (on) or 'false' (off)."},
    )


class AnonymousPullForm(forms.Form):
    """The on/off switch for pulls without credentials."""

    enabled = forms.TypedChoiceField(
        label="Anonymous pull", choices=[("true", "on"), ("false", "off")], coerce=lambda value: value == "true",
        error_messages={"invalid_choice": "Choose 'true' (on) or 'false' (off)."},
    )


# Webhooks, job history, registry delete (the pages beside the API's routes for them)


class UncheckedMultipleChoiceField(forms.MultipleChoiceField):
    """Checkboxes whose values the service checks, so a refusal reads as the API's."""

    def validate(self, value):
        pass


def custom_headers_parse(text: str) -> dict[str, str]:
    """'Name: value' lines into a dict (blank lines skipped); the service checks names and values."""
    headers = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise InvalidInput(f"Custom headers: write one header a line as 'Name: value' ('{line.strip()[:40]}' "
                               "is not).", field="custom_headers")
        headers[name.strip()] = value.strip()
    return headers


class WebhookForm(ServiceForm):
    """Create a webhook. The secret is never shown again, not even after an error (write-only, as in the API)."""

    name = forms.CharField(label="Name", max_length=200, help_text="5 to 50 letters and digits.",
                           widget=forms.TextInput(attrs={"autocomplete": "off"}))
    region = forms.CharField(label="Region", max_length=80, widget=forms.Select,
                             help_text="Events in this region (where the registry has a replica) are sent.")
    service_uri = forms.CharField(label="Service URI", max_length=4000, widget=forms.URLInput(
        attrs={"placeholder": "https://hooks.example.com/registry", "autocomplete": "off"}),
        help_text="Where each event is POSTed. Write-only: only its scheme and host are shown afterwards.")
    secret = forms.CharField(label="Secret", max_length=400, strip=False,
                             widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                             help_text="16 to 200 characters; signs every delivery (X-Signature-SHA256). Write-only.")
    actions = UncheckedMultipleChoiceField(
        label="Actions", required=False, widget=forms.CheckboxSelectMultiple,
        choices=[(action.value, action.label) for action in WEBHOOK_SUBSCRIBABLE_ACTIONS])
    scope = forms.CharField(label="Scope", max_length=400, required=False,
                            widget=forms.TextInput(attrs={"placeholder": "repository:tag, repository:* or empty"}),
                            help_text="Empty for every repository; names without the registry's prefix.")
    custom_headers = forms.CharField(label="Custom headers", required=False, strip=False,
                                     widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Authorization: Bearer …"}),
                                     help_text="One 'Name: value' a line. Values are write-only.")
    enabled = forms.BooleanField(label="Enabled", required=False, initial=True)

    def set_region_choices(self, regions) -> None:
        self.fields["region"].widget.choices = [(region.name, f"{region.display_name} ({region.name})")
                                                for region in regions]

    def service_arguments(self) -> dict:
        """The cleaned fields as webhook_create's arguments; InvalidInput for unreadable custom headers."""
        data = dict(self.cleaned_data)
        data["custom_headers"] = custom_headers_parse(data["custom_headers"])
        return data


class WebhookEditForm(WebhookForm):
    """Change a webhook: a blank service URI, secret or headers box keeps what is stored."""

    clear_custom_headers = forms.BooleanField(label="Remove every custom header", required=False)
    field_order = ["region", "service_uri", "secret", "actions", "scope", "custom_headers", "clear_custom_headers",
                   "enabled"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["name"]
        for name in ("service_uri", "secret"):
            self.fields[name].required = False
        self.fields["service_uri"].help_text = ("Blank keeps the current one. A new URI needs the secret again and "
                                                "drops the custom headers unless they are given again.")
        self.fields["secret"].help_text = "Blank keeps the current one; 16 to 200 characters."
        self.fields["custom_headers"].help_text = "Blank keeps the current headers; lines given replace them all."

    def service_arguments(self) -> dict:
        """webhook_update's arguments: only what the form changes (blank write-only fields keep their value)."""
        data = self.cleaned_data
        arguments = {"region": data["region"], "actions": data["actions"], "scope": data["scope"],
                     "enabled": data["enabled"]}
        for name in ("service_uri", "secret"):
            if data[name]:
                arguments[name] = data[name]
        if data["custom_headers"].strip():
            arguments["custom_headers"] = custom_headers_parse(data["custom_headers"])
        elif data["clear_custom_headers"]:
            arguments["custom_headers"] = {}
        return arguments


class WebhookEnabledForm(forms.Form):
    """The on/off switch of a webhook."""

    enabled = forms.TypedChoiceField(
        label="Enabled", choices=[("true", "on"), ("false", "off")], coerce=lambda value: value == "true",
        error_messages={"invalid_choice": "Choose 'true' (on) or 'false' (off)."},
    )


class JobFilterForm(ServiceForm):
    """The job history's filters; values outside the lists reach the selector, which names the valid ones."""

    region = forms.CharField(label="Region", required=False, max_length=80, widget=forms.Select)
    state = forms.CharField(label="State", required=False, max_length=20, widget=forms.Select(
        choices=[("", "Any state"), *JobState.choices]))
    kind = forms.CharField(label="Kind", required=False, max_length=20, widget=forms.Select(
        choices=[("", "Any kind"), *JobKind.choices]))

    def set_region_choices(self, regions) -> None:
        self.fields["region"].widget.choices = [("", "Any region"), *((region.name, region.display_name)
                                                                       for region in regions)]


class RegistryDeleteForm(ServiceForm):
    """Deleting a registry from the pages needs its name typed (the API's DELETE is one request)."""

    confirm_name = forms.CharField(label="Type the registry's name to confirm", max_length=200,
                                   widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))

    def __init__(self, *args, registry, **kwargs):
        super().__init__(*args, **kwargs)
        self.registry = registry
        self.fields["confirm_name"].help_text = f"Type {registry.name} exactly."

    def clean_confirm_name(self):
        typed = self.cleaned_data["confirm_name"]
        if typed.strip() != self.registry.name:
            raise forms.ValidationError(f"That is not the registry's name: type {self.registry.name} to delete it.")
        return typed
