"""A registry's region map, rendered with folium from plain data.

No queries and no Django templates here: the view builds `MapRegion`s (from a selector)
and embeds the three parts of the returned `RenderedMap` in its page. Everything the map
loads comes from the vendored files under static/vendor/, so it works offline.
"""
from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

import folium
import h3
from branca.element import Element, MacroElement
from django.utils.safestring import SafeString, mark_safe
from folium.template import Template

from replication.choices import ROUTING_OFF_LABEL, RegionState, ReplicaDisplayState

H3_RESOLUTION = 2  # about 365 km across: one clickable hexagon per region at world zoom
COUNTRIES_FILE = Path(__file__).resolve().parent.parent / "static" / "vendor" / "world-atlas" / "countries-110m.json"
_REGION_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")  # becomes a CSS class: keep it plain

# How strongly each state is drawn: replicas and available regions stand out, unavailable recedes.
_FILL_OPACITY = {RegionState.REPLICA: 0.85, RegionState.AVAILABLE: 0.75, RegionState.UNAVAILABLE: 0.55}


@dataclass(frozen=True)
class MapRegion:
    name: str
    display_name: str
    latitude: float
    longitude: float
    state: RegionState
    popup_html: str = ""  # ready, escaped HTML (a form with its CSRF token, built by the view)
    tooltip: str = ""  # plain text; defaults to the display name
    marker: ReplicaDisplayState | None = None  # replicas: the state drawn on the hexagon (selectors.replica_map_state)
    state_text: str = ""  # the marker's state in words ("Syncing 42%, routing off")
    progress: int | None = None  # creating/syncing with a known size: percent copied, shown on the hexagon
    routing_off: bool = False


@dataclass(frozen=True)
class RenderedMap:
    """The parts of a page that shows the map, already safe for a Django template.

    header: <script>/<link>/<style> tags for <head> (Leaflet, jQuery, topojson-client, CSS);
    html: the map's <div> and its legend; script: a <script> element to place after `html`.
    """

    header: SafeString
    html: SafeString
    script: SafeString


def render_region_map(
    regions: Sequence[MapRegion], *, static_path: Callable[[str], str] = lambda path: "/static/" + path,
    height: str = "520px",
) -> RenderedMap:
    """One hexagon per region, coloured by its state, on an offline world basemap.

    static_path turns a file under static/ into its URL: pass django.templatetags.static.static, so that
    with the manifest storage every vendored file is named by its hash (and cached for good).
    """
    def vendor(path: str) -> str:
        return static_path("vendor/" + path)

    m = _EmbeddedMap(
        tiles=None,
        height=height,
        zoom_snap=0.25,
        zoom_delta=0.5,
        scroll_wheel_zoom=True,
        zoom_control=False,  # added at the bottom right by region_map.js, where no popup opens under it
        attribution_control=False,
        max_bounds_viscosity=1.0,
    )
    # Per instance, never on the class: folium's defaults point at CDNs.
    m.default_js = [("leaflet", vendor("leaflet/leaflet.js")), ("jquery", vendor("jquery/jquery.min.js"))]
    m.default_css = [("leaflet_css", vendor("leaflet/leaflet.css"))]

    basemap = _Basemap(_countries(), "objects.countries", name="countries", control=False)
    basemap.default_js = [("topojson", vendor("topojson-client/topojson-client.min.js"))]
    basemap.add_to(m)

    bounds = []
    layers = {}
    for region, cell in _assign_cells(regions):
        boundary = _cell_polygon(cell, region.longitude)
        bounds.extend(boundary)
        entry = region_map_entry(region)
        style = entry["style"]
        layers[region.name] = folium.Polygon(
            boundary,
            color=style["color"],
            weight=style["weight"],
            dash_array=style["dashArray"],
            fill_color=style["fillColor"],
            fill_opacity=style["fillOpacity"],
            class_name=entry["className"],
            tooltip=folium.Tooltip(_js_template_safe(html.escape(entry["tooltip"])), sticky=False, direction="top"),
            popup=(
                folium.Popup(_js_template_safe(region.popup_html), parse_html=False, max_width=360,
                             auto_pan_padding_top_left=(12, 12), auto_pan_padding_bottom_right=(60, 90))
                if region.popup_html
                else None
            ),
        ).add_to(m)

    _MapView(bounds).add_to(m)
    _RegionMapScript(layers, [region_map_entry(region) for region in regions],
                     {region.name: popup_digest(region.popup_html) for region in regions if region.popup_html}).add_to(m)
    return _render_parts(m, script_url=static_path("js/region_map.js"))


_CSRF_VALUE = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]*"')


def popup_digest(popup_html: str) -> str:
    """Tells region_map.js whether a popup's content changed; the CSRF token is masked afresh on every
    render, so it is left out."""
    return hashlib.sha256(_CSRF_VALUE.sub(r'\1"', popup_html).encode()).hexdigest()[:16]


def region_map_entry(region: MapRegion) -> dict:
    """What region_map.js needs to draw one region: its style, classes, words and marker. The page's first
    render and the live updates (the map-state fragment) both come from here, so they cannot disagree."""
    state = RegionState(region.state)
    marker = ReplicaDisplayState(region.marker) if region.marker else None
    label = f"{region.tooltip or region.display_name} · {state.label}"
    if region.state_text:
        label += f" · {region.state_text}"
    classes = f"region-hex region-{region.name} state-{state.value}"
    if marker:
        classes += f" marker-{marker.value}"
    if region.routing_off:
        classes += " routing-off"
    busy = marker in (ReplicaDisplayState.CREATING, ReplicaDisplayState.SYNCING)
    return {
        "name": region.name,
        "state": state.value,
        "className": classes,
        "tooltip": label,
        "style": {
            "color": marker.ring_colour if marker else "#ffffff",
            # A ring wide enough to read at world zoom when there is something to report.
            "weight": 3 if marker and marker != ReplicaDisplayState.READY else 1,
            "dashArray": "5 3" if busy or marker == ReplicaDisplayState.DELETING else None,
            "fillColor": state.colour,
            "fillOpacity": 0.4 if marker == ReplicaDisplayState.DELETING else _FILL_OPACITY[state],
        },
        "marker": {
            "state": marker.value,
            "text": f"{region.progress}%" if busy and region.progress is not None else marker.glyph,
            "colour": marker.ring_colour,
            "routingOff": region.routing_off,
        } if marker and (marker != ReplicaDisplayState.READY or region.routing_off) else None,
    }


def _assign_cells(regions: Sequence[MapRegion]) -> list[tuple[MapRegion, str]]:
    """Each region gets its own H3 cell: near neighbours (eastus/eastus2, twin regions in
    one city) would otherwise share a hexagon and hide each other, so the later one by
    name takes the free cell nearest its real location."""
    taken: set[str] = set()
    cells: list[tuple[MapRegion, str]] = []
    for region in sorted(regions, key=lambda r: r.name):
        if not _REGION_NAME.match(region.name):
            raise ValueError(f"region name {region.name!r} must be lowercase letters, digits and dashes")
        point = (region.latitude, region.longitude)
        home = h3.latlng_to_cell(*point, H3_RESOLUTION)
        k = 0
        while True:
            free = [c for c in h3.grid_ring(home, k) if c not in taken]
            if free:
                cell = min(free, key=lambda c: h3.great_circle_distance(point, h3.cell_to_latlng(c)))
                break
            k += 1
        taken.add(cell)
        cells.append((region, cell))
    return cells


def _cell_polygon(cell: str, near_longitude: float) -> list[tuple[float, float]]:
    """The cell's (lat, lng) vertices; a cell crossing the antimeridian has longitudes on
    both sides of ±180, which Leaflet would draw as a band around the globe, so move them
    to the side of the region itself."""
    boundary = h3.cell_to_boundary(cell)
    lngs = [lng for _, lng in boundary]
    if max(lngs) - min(lngs) <= 180:
        return [(lat, lng) for lat, lng in boundary]
    if near_longitude >= 0:
        return [(lat, lng + 360 if lng < 0 else lng) for lat, lng in boundary]
    return [(lat, lng - 360 if lng > 0 else lng) for lat, lng in boundary]


def _js_template_safe(fragment: str) -> str:
    """folium puts popup and tooltip HTML inside a JavaScript template literal inside a
    <script>: backslashes, backticks and ${ would be read as JavaScript, and </script> would
    end the script. Replace them with HTML equivalents (character references are decoded
    again when jQuery parses the HTML), so text and attribute values survive unchanged."""
    fragment = fragment.replace("\\", "&#92;").replace("`", "&#96;").replace("${", "&#36;{")
    return fragment.replace("</", "<\\/").replace("<!--", "<\\!--")


@lru_cache(maxsize=1)
def _countries_text() -> str:
    return COUNTRIES_FILE.read_text(encoding="utf-8")


def _countries() -> dict:
    # A fresh dict each time: folium writes styles into the data it is given.
    return json.loads(_countries_text())


def _legend_html() -> str:
    """Beside the map rather than on it, where it would cover hexagons and popups."""
    fills = "".join(
        f'<li><span class="region-map-swatch" style="background:{state.colour}"></span>{html.escape(state.label)}</li>'
        for state in RegionState
    )
    markers = "".join(
        f'<li><span class="region-marker region-marker-legend marker-{state.value}" style="border-color:{state.ring_colour}" '
        f'aria-hidden="true">{html.escape(state.glyph or "✓")}</span>{html.escape(state.map_label)}</li>'
        for state in ReplicaDisplayState
    )
    markers += (f'<li><span class="region-marker region-marker-legend routing-off" aria-hidden="true">⊘</span>'
                f'{html.escape(ROUTING_OFF_LABEL.capitalize())}</li>')
    return (f'<div class="region-map-legend" aria-label="Map legend" role="group">'
            f'<ul class="region-map-legend-list">{fills}</ul>'
            f'<ul class="region-map-legend-list region-map-legend-markers" aria-label="Replica states">{markers}</ul>'
            f'<p class="region-map-legend-note">Creating and syncing show the percentage copied.</p></div>')


def _render_parts(m: folium.Map, *, script_url: str) -> RenderedMap:
    figure = m.get_root()
    figure.render()  # renders every child into figure.header / .html / .script
    del figure.header._children["meta_http"]  # the page has its own charset
    header = figure.header.render() + f'\n<script src="{html.escape(script_url)}"></script>'
    body = f'<div class="region-map">{figure.html.render()}</div>{_legend_html()}'
    script = f"<script>\n{figure.script.render()}\n</script>"
    return RenderedMap(header=mark_safe(header), html=mark_safe(body), script=mark_safe(script))


class _EmbeddedMap(folium.Map):
    """folium.Map whose header suits a page that has its own layout: folium's standalone
    header sets html/body to 100% height without margins and locks the viewport zoom."""

    def render(self, **kwargs):
        super().render(**kwargs)
        style = (
            f"<style>#{self.get_name()} {{ position: relative; width: 100%; "
            f"height: {self.height[0]:g}{self.height[1]}; }}</style>"
        )
        self.get_root().header.add_child(Element(style + _MAP_CSS), name=self.get_name())


class _Basemap(folium.TopoJson):
    """folium.TopoJson drawn as a plain backdrop under the hexagons: not interactive (no
    pointer cursor, no clicks swallowed), one style for every country."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }}_data = {{ this.data|tojson }};
            var {{ this.get_name() }}_features = topojson.feature(
                {{ this.get_name() }}_data,
                {{ this.get_name() }}_data{{ this._safe_object_path }}
            );
            // Rings that cross 180 degrees and come back (Russia, Fiji) would be drawn as
            // bands across the whole map: move their western points east of 180 instead.
            {{ this.get_name() }}_features.features.forEach(function (feature) {
                var geometry = feature.geometry;
                var polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
                polygons.forEach(function (rings) {
                    rings.forEach(function (ring, r) {
                        var jumps = 0;
                        for (var i = 1; i < ring.length; i++) {
                            if (Math.abs(ring[i][0] - ring[i - 1][0]) > 180) jumps++;
                        }
                        if (jumps >= 2) {
                            rings[r] = ring.map(function (p) { return p[0] < 0 ? [p[0] + 360, p[1]] : p; });
                        }
                    });
                });
            });
            var {{ this.get_name() }} = L.geoJson(
                {{ this.get_name() }}_features,
                {interactive: false, style: {{ this.basemap_style|tojson }}}
            ).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )
    basemap_style = {"color": "#c9d1d9", "weight": 0.6, "fillColor": "#ffffff", "fillOpacity": 1}

    def style_data(self) -> None:
        pass  # the style is set once in the template, not copied into every feature


class _RegionMapScript(MacroElement):
    """Hands the map, its hexagons and their data to static/js/region_map.js, which keeps hexagons large
    enough to hit at any zoom, draws the state markers, makes hexagons keyboard-reachable, keeps the view
    across reloads and applies live updates."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            RegionMap.init({{ this._parent.get_name() }}, {
                {%- for name, layer in this.layers.items() %}
                {{ name|tojson }}: {{ layer.get_name() }}{{ "," if not loop.last }}
                {%- endfor %}
            }, {{ this.entries|tojson }}, {{ this.popup_digests|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, layers: dict, entries: list[dict], popup_digests: dict[str, str]):
        super().__init__()
        self._name = "RegionMapScript"
        self.layers = layers
        self.entries = entries
        self.popup_digests = popup_digests


class _MapView(MacroElement):
    """Opens on every region, keeps the map on one copy of the world, and hides a
    region's tooltip while its popup is open (the popup names the region already)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            (function (map) {
                map.setMaxBounds(L.latLngBounds([[-85, -200], [85, 200]]));
                map.fitBounds({{ this.bounds|tojson }}, {padding: [12, 12], animate: false});
                map.setMinZoom(Math.min(map.getZoom(), 2));
                map.eachLayer(function (layer) {
                    if (layer.getPopup && layer.getPopup()) {
                        layer.on("popupopen", function () { layer.closeTooltip(); });
                    }
                });
            })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, points: list[tuple[float, float]]):
        super().__init__()
        self._name = "MapView"
        if points:
            lats = [lat for lat, _ in points]
            lngs = [lng for _, lng in points]
            self.bounds = [[min(lats), min(lngs)], [max(lats), max(lngs)]]
        else:
            self.bounds = [[-60, -170], [75, 170]]


# Map-only styles, shipped with the map so it looks right on any page.
_MAP_CSS = """
<style>
.region-map .folium-map { background: #e3ecf4; border-radius: 6px; }
.region-map .region-hex { transition: fill-opacity 0.1s; }
.region-map .region-hex:hover { stroke: #1f2328; stroke-width: 2px; fill-opacity: 1; }
.region-map .leaflet-tooltip { font-size: 13px; padding: 4px 8px; }
.region-map .leaflet-popup-content { font-size: 14px; line-height: 1.4; margin: 12px 16px; }
.region-map-legend { display: flex; flex-wrap: wrap; gap: 4px 24px; margin-top: 8px; font-size: 13px; color: #1f2328; }
.region-map-legend-list { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: 2px 14px; }
.region-map-legend-list li { display: flex; align-items: center; gap: 6px; }
.region-map-legend-note { margin: 0; color: #57606a; }
.region-map-swatch { display: inline-block; width: 14px; height: 14px; border-radius: 3px; }
.region-marker-icon { background: none; border: none; }
.region-marker { position: absolute; transform: translate(-50%, -50%); min-width: 16px; height: 16px; padding: 0 3px;
  border-radius: 8px; border: 2px solid; background: #ffffff; color: #1f2328; font: 700 10px/16px system-ui, sans-serif;
  text-align: center; white-space: nowrap; box-sizing: content-box; pointer-events: none; }
.region-marker-legend { position: static; transform: none; display: inline-block; border-color: #1f2328; }
.region-marker.marker-failed, .region-marker.marker-unreachable { background: #ffebe9; }
.region-marker.marker-degraded { background: #fff8c5; }
.region-marker-routing-off, .region-marker.routing-off { position: absolute; transform: translate(40%, -130%);
  width: 14px; height: 14px; border-radius: 7px; background: #ffffff; color: #57606a; border: 1px solid #57606a;
  font: 700 11px/14px system-ui, sans-serif; text-align: center; pointer-events: none; }
.region-marker.routing-off { position: static; transform: none; display: inline-block; }
.region-map .region-hex:focus { outline: none; stroke: #1f2328; stroke-width: 3px; fill-opacity: 1; }
.region-map .marker-creating, .region-map .marker-syncing { animation: region-ring 1.2s linear infinite; }
@keyframes region-ring { to { stroke-dashoffset: -16; } }
@media (prefers-reduced-motion: reduce) { .region-map .marker-creating, .region-map .marker-syncing { animation: none; } }
</style>
"""
