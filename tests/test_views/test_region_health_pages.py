"""Pages read recorded region health: a stopped registry changes them only once the probe has run."""
from replication.services.health import region_health_probe
from tests.test_views.test_pages import hexagons


def home_region_choices(response) -> set[str]:
    return {name for name, _label in response.context["form"].fields["home_region"].widget.choices}


def test_overview_and_map_read_recorded_health_until_the_probe_runs(signed_in, contoso, westeurope_registry):
    assert hexagons(signed_in.get("/registries/contoso/replications/"))["westeurope"][0] == "available"
    assert "westeurope" in home_region_choices(signed_in.get("/registries/"))

    westeurope_registry.stop()
    # No network in a render: both pages still show what the last probe recorded.
    assert hexagons(signed_in.get("/registries/contoso/replications/"))["westeurope"][0] == "available"
    assert "westeurope" in home_region_choices(signed_in.get("/registries/"))

    region_health_probe()
    assert hexagons(signed_in.get("/registries/contoso/replications/"))["westeurope"][0] == "unavailable"
    assert "westeurope" not in home_region_choices(signed_in.get("/registries/"))
    assert "westus" in home_region_choices(signed_in.get("/registries/"))
