"""Portal forms. They only parse input: every rule lives in the services, which the API calls too,
so a refused input gets the same words in both places."""
from django import forms

from .exceptions import ServiceError


class RegistryCreateForm(forms.Form):
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

    def add_service_error(self, error: ServiceError) -> None:
        """Show a service's refusal beside the field it names, or above the form."""
        self.add_error(error.field if error.field in self.fields else None, error.message)

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
