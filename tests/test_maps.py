"""The region map (replication/maps.py) and the region catalogue it is drawn from."""
import html
import json
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import folium
import h3
import pytest

from replication.choices import REGION_STATE_COLOURS, RegionState, ReplicaDisplayState
from replication.maps import MapRegion, render_region_map
from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parent.parent
REGIONS_FILE = ROOT / "replication" / "data" / "azure_regions.json"
URL = re.compile(r"https?://", re.IGNORECASE)

FORM = (
    '<form method="post" action="/registries/contoso/replicas/">'
    '<input type="hidden" name="csrfmiddlewaretoken" value="tok3n">'
    '<input type="hidden" name="region" value="canadacentral">'
    "<strong>Canada Central</strong> <button type=\"submit\">Add replica</button></form>"
)


def port_answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.1).close()
        return True
    except OSError:
        return False


def demo_regions() -> list[MapRegion]:
    return [
        MapRegion("westus", "West US", 37.783, -122.417, RegionState.REPLICA, "<p>Home replica</p>"),
        MapRegion("eastus", "East US", 37.3719, -79.8164, RegionState.REPLICA),
        MapRegion("canadacentral", "Canada Central", 43.653, -79.383, RegionState.AVAILABLE, FORM),
        MapRegion("westeurope", "West Europe", 52.3667, 4.9, RegionState.UNAVAILABLE),
    ]


def rendered(regions=None, **kwargs) -> str:
    m = render_region_map(demo_regions() if regions is None else regions, **kwargs)
    return m.header + m.html + m.script


# The region catalogue


def test_region_catalogue_lists_the_azure_public_regions_consistently():
    regions = json.loads(REGIONS_FILE.read_text(encoding="utf-8"))
    names = [r["name"] for r in regions]
    assert len(regions) >= 50
    assert len(names) == len(set(names))
    assert {"westus", "eastus", "canadacentral", "westeurope"} <= set(names)
    for r in regions:
        assert set(r) == {"name", "display_name", "geography", "latitude", "longitude", "paired_region"}
        assert re.fullmatch(r"[a-z0-9]+", r["name"]), r
        assert r["display_name"] and r["geography"], r
        assert -90 <= r["latitude"] <= 90 and -180 <= r["longitude"] <= 180, r
        assert r["paired_region"] is None or r["paired_region"] in names, r
        assert r["paired_region"] != r["name"], r


def test_region_catalogue_places_known_regions_where_azure_does():
    by_name = {r["name"]: r for r in json.loads(REGIONS_FILE.read_text(encoding="utf-8"))}
    assert (by_name["westeurope"]["latitude"], by_name["westeurope"]["longitude"]) == (52.3667, 4.9)
    assert (by_name["eastus"]["latitude"], by_name["eastus"]["longitude"]) == (37.3719, -79.8164)
    assert by_name["westeurope"]["paired_region"] == "northeurope"
    assert by_name["eastus"]["paired_region"] == "westus"


# Offline


def test_rendered_map_loads_nothing_from_the_internet():
    out = rendered()
    assert not URL.search(out), URL.search(out)
    for cdn_only in ("bootstrap", "awesome", "fontawesome", "glyphicons", "cdn"):
        assert cdn_only not in out.lower()


def test_rendered_map_loads_the_vendored_files_through_static_path():
    header = render_region_map(demo_regions(), static_path=lambda path: "/assets/" + path).header
    sources = re.findall(r'(?:src|href)="([^"]+)"', header)
    assert sources == [
        "/assets/vendor/leaflet/leaflet.js",
        "/assets/vendor/jquery/jquery.min.js",
        "/assets/vendor/leaflet/leaflet.css",
        "/assets/vendor/topojson-client/topojson-client.min.js",
        "/assets/js/region_map.js",
    ]
    for source in sources:
        assert (ROOT / "static" / source.removeprefix("/assets/")).is_file(), source
    assert (ROOT / "static" / "vendor" / "world-atlas" / "countries-110m.json").is_file()


def test_rendering_leaves_folium_class_defaults_alone():
    before = (list(folium.Map.default_js), list(folium.Map.default_css), list(folium.TopoJson.default_js))
    rendered()
    assert (folium.Map.default_js, folium.Map.default_css, folium.TopoJson.default_js) == before


def test_map_does_not_restyle_the_page_it_is_embedded_in():
    header = render_region_map(demo_regions()).header
    assert "html, body" not in header
    assert "viewport" not in header


# Hexagons


def test_each_region_is_a_hexagon_coloured_from_choices_with_a_class_hook():
    out = rendered()
    for state in RegionState:
        assert f'"fillColor": "{REGION_STATE_COLOURS[state]}"' in out
    assert '"className": "region-hex region-westus state-replica"' in out
    assert '"className": "region-hex region-canadacentral state-available"' in out
    assert '"className": "region-hex region-westeurope state-unavailable"' in out
    assert out.count("L.polygon(") == 4


def test_neighbouring_regions_get_hexagons_of_their_own():
    twins = [
        MapRegion("australiacentral", "Australia Central", -35.3075, 149.1244, RegionState.AVAILABLE),
        MapRegion("australiacentral2", "Australia Central 2", -35.3075, 149.1244, RegionState.AVAILABLE),
        MapRegion("eastus", "East US", 37.3719, -79.8164, RegionState.REPLICA),
        MapRegion("eastus2", "East US 2", 36.6681, -78.3889, RegionState.AVAILABLE),
    ]
    out = rendered(twins)
    polygons = re.findall(r"L\.polygon\(\s*(\[.*?\]\]),", out, re.DOTALL)
    assert len(polygons) == 4
    centres = {tuple(round(c, 3) for c in map(sum, zip(*json.loads(p)))) for p in polygons}
    assert len(centres) == 4


def test_hexagon_crossing_the_antimeridian_is_drawn_in_one_piece():
    fiji = (-17.7, 179.9)
    cell = h3.latlng_to_cell(*fiji, 2)
    raw = [lng for _, lng in h3.cell_to_boundary(cell)]
    assert max(raw) - min(raw) > 180  # the case this test is about
    for lng in (179.9, -179.9):
        out = rendered([MapRegion("fiji", "Fiji", fiji[0], lng, RegionState.AVAILABLE)])
        (polygon,) = re.findall(r"L\.polygon\(\s*(\[.*?\]\]),", out, re.DOTALL)
        lngs = [p[1] for p in json.loads(polygon)]
        assert max(lngs) - min(lngs) < 10, lngs


def test_region_names_that_are_not_plain_css_classes_are_refused():
    with pytest.raises(ValueError):
        render_region_map([MapRegion('west" onclick="x', "x", 0, 0, RegionState.AVAILABLE)])


# Popups, tooltips, legend


def test_popup_html_is_embedded_as_html():
    out = rendered()
    assert FORM.replace("</", "<\\/") in out
    assert "&lt;form" not in out


def test_popup_html_cannot_break_out_of_the_script():
    hostile = '<p title="`x`">${alert(1)} \\u0041 <!-- </script><script>alert(2)</script></p>'
    script = render_region_map(
        [MapRegion("westus", "West US", 37.783, -122.417, RegionState.AVAILABLE, hostile)]
    ).script
    body = script.removeprefix("<script>").removesuffix("</script>")
    assert "</script" not in body.lower() and "<!--" not in body
    assert "${alert" not in body
    assert "`x`" not in body and "&#96;x&#96;" in body
    assert "\\u0041" not in body and "&#92;u0041" in body


def test_tooltip_names_the_region_and_its_state_escaped():
    out = rendered([MapRegion("westus", "West US", 37.783, -122.417, RegionState.REPLICA, tooltip="<b>West</b>")])
    assert "&lt;b&gt;West&lt;/b&gt; · Replica" in out
    assert "West US · Available" in rendered(
        [MapRegion("westus", "West US", 37.783, -122.417, RegionState.AVAILABLE)]
    )


def test_legend_shows_every_state_with_its_colour_and_label():
    out = rendered()
    assert "region-map-legend" in out
    for state in RegionState:
        assert f"background:{state.colour}" in out
        assert f"{state.label}</li>" in out
    for marker in ReplicaDisplayState:
        assert f"border-color:{marker.ring_colour}" in out and f"{html.escape(marker.map_label)}</li>" in out
    assert "Routing off</li>" in out


def test_map_without_regions_still_renders():
    m = render_region_map([])
    assert "folium-map" in m.html and "fitBounds" in m.script


# In a real browser


@pytest.mark.browser
def test_map_works_offline_in_a_real_browser(tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("needs Debian's /usr/bin/chromium")
    m = render_region_map(demo_regions())
    (tmp_path / "index.html").write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">'
        f"{m.header}</head><body>{m.html}{m.script}</body></html>",
        encoding="utf-8",
    )
    (tmp_path / "static").symlink_to(ROOT / "static")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "-d", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    origin = f"http://127.0.0.1:{port}/"
    problems, outside = [], []
    try:
        wait_for(lambda: port_answers(port), timeout=10, interval=0.05, message="the static file server")
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                      "--disable-component-update", "--disable-sync"],
            )
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on("console", lambda msg: msg.type == "error" and problems.append(msg.text))
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            page.on("request", lambda r: r.url.startswith((origin, "data:")) or outside.append(r.url))
            page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.status} {r.url}"))
            page.goto(origin + "index.html", wait_until="networkidle")

            assert page.locator("path.region-hex").count() == 4
            assert page.locator("path.leaflet-interactive").count() == 4  # the basemap is not
            page.hover("path.region-canadacentral")
            assert "Canada Central · Available" in page.locator(".leaflet-tooltip").inner_text()
            page.click("path.region-canadacentral")
            form = page.locator(".leaflet-popup-content form")
            form.wait_for(timeout=3000)
            assert form.locator("input[name=csrfmiddlewaretoken]").get_attribute("value") == "tok3n"
            assert form.locator("button").inner_text() == "Add replica"
            assert page.locator(".region-map-legend-list li").all_inner_texts()[:3] == [
                "Replica", "Available", "Unavailable"]
            browser.close()
    finally:
        server.terminate()
        server.wait()
    assert problems == []
    assert outside == []
