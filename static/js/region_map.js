/* The region map's behaviour on top of what folium draws (replication/maps.py):
 *  - hexagons never smaller than MIN_ACROSS_PX: below that zoom they are laid out on a hex grid in
 *    screen pixels (each region in the free cell nearest its real place), above it they are H3 cells;
 *  - a marker on each replica's hexagon for its state (ring colour comes with the style);
 *  - hexagons are buttons for the keyboard: one tab stop, arrow keys move, Enter opens the popup and
 *    focuses its first control, Escape closes it and returns to the hexagon;
 *  - the view (zoom, centre, open popup) lives in the URL hash, so Refresh and form posts keep it;
 *  - with data-state-url on the page, the states are polled and applied in place.
 * Plain ES5, no dependencies besides Leaflet.
 */
(function (window, document) {
  "use strict";

  var MIN_ACROSS_PX = 26; // the issue asks for 24 px at least; 2 px of margin for rounding
  var POLL_MS = 4000;
  var SQRT3 = Math.sqrt(3);
  var GRID_RADIUS = MIN_ACROSS_PX / SQRT3 / 0.94; // pointy-top hexagon, drawn at 94 % to leave a gap

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  // ---- hex grid in screen pixels (axial coordinates, pointy-top) --------------------------------

  var DIRECTIONS = [[1, 0], [1, -1], [0, -1], [-1, 0], [-1, 1], [0, 1]];

  function axialRound(q, r) {
    var x = q, z = r, y = -x - z;
    var rx = Math.round(x), ry = Math.round(y), rz = Math.round(z);
    var dx = Math.abs(rx - x), dy = Math.abs(ry - y), dz = Math.abs(rz - z);
    if (dx > dy && dx > dz) rx = -ry - rz;
    else if (dy <= dz) rz = -rx - ry;
    return [rx, rz];
  }

  function axialCentre(q, r, radius) {
    return L.point(radius * SQRT3 * (q + r / 2), radius * 1.5 * r);
  }

  function ring(q, r, k) {
    if (k === 0) return [[q, r]];
    var cells = [], cq = q + DIRECTIONS[4][0] * k, cr = r + DIRECTIONS[4][1] * k;
    for (var side = 0; side < 6; side++) {
      for (var step = 0; step < k; step++) {
        cells.push([cq, cr]);
        cq += DIRECTIONS[side][0];
        cr += DIRECTIONS[side][1];
      }
    }
    return cells;
  }

  function RegionMap(map, layers, entries, popupDigests) {
    this.map = map;
    this.regions = {};
    this.order = [];
    this.focusIndex = 0;
    var self = this;
    entries.forEach(function (entry) {
      var layer = layers[entry.name];
      if (!layer) return;
      var region = {name: entry.name, layer: layer, entry: null, marker: null,
                    popupDigest: (popupDigests || {})[entry.name],
                    h3: layer.getLatLngs()[0].slice(), centre: layer.getBounds().getCenter()};
      self.regions[entry.name] = region;
      self.order.push(region);
    });
    L.control.zoom({position: "bottomright"}).addTo(map);
    entries.forEach(function (entry) { if (self.regions[entry.name]) self.apply(self.regions[entry.name], entry); });
    this.sortForKeyboard();
    var restored = this.restoreView();
    if (this.layout() === "grid" && !restored) this.centreOnHexagons();
    map.on("zoomend", function () { self.layout(); });
    map.on("moveend popupopen popupclose", function () { self.saveView(); });
    this.order.forEach(function (region) { self.bindKeyboard(region); });
    this.bindPopupEscape();
    this.bindRefreshAndForms();
    this.reopenPopup();
    this.poll();
  }

  RegionMap.prototype.path = function (region) {
    return region.layer.getElement ? region.layer.getElement() : region.layer._path;
  };

  // ---- drawing one region's state ----------------------------------------------------------------

  RegionMap.prototype.apply = function (region, entry) {
    var previous = region.entry;
    region.entry = entry;
    region.layer.setStyle(entry.style);
    var path = this.path(region);
    if (path) {
      path.setAttribute("class", entry.className + " leaflet-interactive");
      path.setAttribute("aria-label", entry.tooltip);
      path.setAttribute("role", "button");
      path.setAttribute("aria-haspopup", "dialog");
    }
    if (!previous || previous.tooltip !== entry.tooltip) {
      region.layer.setTooltipContent(escapeHtml(entry.tooltip));
    }
    this.drawMarker(region);
  };

  RegionMap.prototype.drawMarker = function (region) {
    var marker = region.entry.marker;
    if (!marker) {
      if (region.marker) { this.map.removeLayer(region.marker); region.marker = null; }
      return;
    }
    var html = (marker.text ? '<span class="region-marker marker-' + escapeHtml(marker.state) + '" style="border-color:' +
      escapeHtml(marker.colour) + '">' + escapeHtml(marker.text) + "</span>" : "") +
      (marker.routingOff ? '<span class="region-marker-routing-off">⊘</span>' : "");
    var icon = L.divIcon({className: "region-marker-icon", html: html, iconSize: [0, 0]});
    if (region.marker) {
      region.marker.setIcon(icon);
    } else {
      // Not interactive: clicks and the keyboard go to the hexagon under it.
      region.marker = L.marker(region.centre, {icon: icon, interactive: false, keyboard: false}).addTo(this.map);
    }
    region.marker.getElement().setAttribute("aria-hidden", "true");
  };

  // ---- size: H3 cells when they are large enough on screen, else a pixel grid ------------------

  RegionMap.prototype.layout = function () {
    var map = this.map, zoom = map.getZoom(), smallest = Infinity;
    this.order.forEach(function (region) {
      var box = L.bounds(region.h3.map(function (ll) { return map.project(ll, zoom); }));
      var size = box.getSize();
      smallest = Math.min(smallest, size.x, size.y);
    });
    var self = this;
    if (smallest >= MIN_ACROSS_PX) {
      this.order.forEach(function (region) {
        self.place(region, region.h3, L.latLngBounds(region.h3).getCenter());
      });
      return "h3";
    }
    var taken = {};
    this.order.slice().sort(function (a, b) { return a.name < b.name ? -1 : 1; }).forEach(function (region) {
      var home = map.project(L.latLngBounds(region.h3).getCenter(), zoom);
      var start = axialRound((SQRT3 / 3 * home.x - home.y / 3) / GRID_RADIUS, (2 / 3 * home.y) / GRID_RADIUS);
      for (var k = 0; ; k++) {
        var best = null, bestDistance = Infinity;
        ring(start[0], start[1], k).forEach(function (cell) {
          if (taken[cell[0] + "," + cell[1]]) return;
          var distance = axialCentre(cell[0], cell[1], GRID_RADIUS).distanceTo(home);
          if (distance < bestDistance) { best = cell; bestDistance = distance; }
        });
        if (best) break;
      }
      taken[best[0] + "," + best[1]] = true;
      var centre = axialCentre(best[0], best[1], GRID_RADIUS), corners = [];
      for (var i = 0; i < 6; i++) {
        var angle = Math.PI / 180 * (60 * i - 30);
        corners.push(map.unproject(centre.add(L.point(Math.cos(angle), Math.sin(angle)).multiplyBy(GRID_RADIUS * 0.94)), zoom));
      }
      self.place(region, corners, map.unproject(centre, zoom));
    });
    return "grid";
  };

  RegionMap.prototype.place = function (region, corners, centre) {
    region.layer.setLatLngs(corners);
    region.centre = centre;
    if (region.marker) region.marker.setLatLng(centre);
    var popup = region.layer.getPopup();
    if (popup && region.layer.isPopupOpen()) popup.setLatLng(centre);
  };

  // ---- keyboard: one tab stop, arrows move, Enter opens, Escape closes ---------------------------

  RegionMap.prototype.sortForKeyboard = function () {
    var rank = {replica: 0, available: 1, unavailable: 2};
    this.order.sort(function (a, b) {
      var byState = rank[a.entry.state] - rank[b.entry.state];
      if (byState) return byState;
      return a.entry.tooltip < b.entry.tooltip ? -1 : 1;
    });
    var self = this;
    this.order.forEach(function (region, index) {
      var path = self.path(region);
      if (path) path.setAttribute("tabindex", index === self.focusIndex ? "0" : "-1");
    });
  };

  RegionMap.prototype.focusRegion = function (index) {
    var count = this.order.length;
    this.focusIndex = (index + count) % count;
    this.sortForKeyboard();
    var path = this.path(this.order[this.focusIndex]);
    if (path) path.focus({preventScroll: true});
  };

  RegionMap.prototype.bindKeyboard = function (region) {
    var self = this, path = this.path(region);
    if (!path) return;
    path.addEventListener("focus", function () {
      self.focusIndex = self.order.indexOf(region);
      region.layer.openTooltip();
    });
    path.addEventListener("blur", function () { region.layer.closeTooltip(); });
    path.addEventListener("keydown", function (event) {
      var index = self.order.indexOf(region);
      if (event.key === "ArrowRight" || event.key === "ArrowDown") self.focusRegion(index + 1);
      else if (event.key === "ArrowLeft" || event.key === "ArrowUp") self.focusRegion(index - 1);
      else if (event.key === "Home") self.focusRegion(0);
      else if (event.key === "End") self.focusRegion(-1);
      else if (event.key === "Enter" || event.key === " ") self.openFromKeyboard(region);
      else return;
      event.preventDefault();
      event.stopPropagation();
    });
  };

  RegionMap.prototype.openFromKeyboard = function (region) {
    if (!region.layer.getPopup()) return;
    region.layer.openPopup(region.centre);
    this.focusPopup(region);
  };

  RegionMap.prototype.focusPopup = function (region) {
    var popup = region.layer.getPopup(), container = popup && popup.getElement();
    if (!container) return;
    var first = container.querySelector(".leaflet-popup-content button, .leaflet-popup-content a[href], " +
                                        ".leaflet-popup-content input:not([type=hidden])") ||
                container.querySelector(".leaflet-popup-close-button");
    if (first) first.focus({preventScroll: true});
  };

  // Escape in any open popup (opened by click, keyboard or restored) closes it and returns to its hexagon.
  RegionMap.prototype.bindPopupEscape = function () {
    var self = this;
    this.map.on("popupopen", function (event) {
      var container = event.popup.getElement(), region = self.regionOfPopup(event.popup);
      if (!container || !region) return;
      container.setAttribute("role", "dialog");
      container.setAttribute("aria-label", region.entry.tooltip);
      if (container.dataset.escapeBound) return;
      container.dataset.escapeBound = "1";
      container.addEventListener("keydown", function (keyEvent) {
        if (keyEvent.key !== "Escape") return;
        keyEvent.preventDefault();
        region.layer.closePopup();
        var path = self.path(region);
        if (path) path.focus({preventScroll: true});
      });
    });
  };

  RegionMap.prototype.regionOfPopup = function (popup) {
    for (var i = 0; i < this.order.length; i++) {
      if (this.order[i].layer.getPopup() === popup) return this.order[i];
    }
    return null;
  };

  // ---- the view in the URL hash: #map=zoom/lat/lng[/region] ---------------------------------------

  RegionMap.prototype.openRegion = function () {
    for (var i = 0; i < this.order.length; i++) {
      if (this.order[i].layer.isPopupOpen && this.order[i].layer.isPopupOpen()) return this.order[i];
    }
    return null;
  };

  RegionMap.prototype.saveView = function () {
    var centre = this.map.getCenter(), open = this.openRegion();
    var hash = "#map=" + this.map.getZoom() + "/" + centre.lat.toFixed(4) + "/" + centre.lng.toFixed(4) +
      (open ? "/" + open.name : "");
    if (window.location.hash !== hash) {
      window.history.replaceState(window.history.state, "", window.location.pathname + window.location.search + hash);
    }
  };

  RegionMap.prototype.savedView = function () {
    var match = /^#map=([\d.]+)\/(-?[\d.]+)\/(-?[\d.]+)(?:\/([a-z0-9-]+))?$/.exec(window.location.hash);
    if (!match) return null;
    return {zoom: parseFloat(match[1]), centre: L.latLng(parseFloat(match[2]), parseFloat(match[3])),
            region: match[4] || null};
  };

  RegionMap.prototype.restoreView = function () {
    var view = this.savedView();
    if (view) this.map.setView(view.centre, view.zoom, {animate: false});
    return Boolean(view);
  };

  // On a narrow screen the grid spreads the hexagons beyond the regions' own box: show the hexagons' middle.
  RegionMap.prototype.centreOnHexagons = function () {
    var corners = [];
    this.order.forEach(function (region) { corners = corners.concat(region.layer.getLatLngs()[0]); });
    if (corners.length) this.map.panTo(L.latLngBounds(corners).getCenter(), {animate: false});
  };

  RegionMap.prototype.reopenPopup = function () {
    var view = this.savedView(), region = view && view.region && this.regions[view.region];
    if (!region || !region.layer.getPopup()) return;
    // Without panning: the saved centre is the view the user left, popup included.
    region.layer.getPopup().options.autoPan = false;
    region.layer.openPopup(region.centre);
    region.layer.getPopup().options.autoPan = true;
  };

  RegionMap.prototype.bindRefreshAndForms = function () {
    // Refresh reloads the page (status from the server, as the design asks) at the same view: the hash stays.
    var refresh = document.getElementById("refresh");
    if (refresh) {
      refresh.addEventListener("click", function (event) {
        event.preventDefault();
        window.location.reload();
      });
    }
    // A form posted from the page comes back to the same view and popup.
    document.addEventListener("submit", function (event) {
      var next = event.target.querySelector && event.target.querySelector("input[name=next]");
      if (next && next.value.split("#")[0] === window.location.pathname) {
        next.value = window.location.pathname + window.location.hash;
      }
    }, true);
  };

  // ---- live: poll the states and apply them in place ----------------------------------------------

  RegionMap.prototype.poll = function () {
    var holder = document.querySelector("[data-map-state-url]");
    if (!holder || !window.fetch) return;
    var self = this, url = holder.getAttribute("data-map-state-url");
    function fetchStates() {
      var open = self.openRegion();
      return fetch(url + (open ? "?open=" + encodeURIComponent(open.name) : ""),
                   {credentials: "same-origin", headers: {"Accept": "application/json"}, cache: "no-store"})
        .then(function (response) { return response.ok && !response.redirected ? response.json() : null; })
        .then(function (data) { if (data) self.update(data); })
        .catch(function () { /* the next tick tries again */ });
    }
    function tick() {
      if (document.hidden) { window.setTimeout(tick, POLL_MS); return; }
      fetchStates().then(function () { window.setTimeout(tick, POLL_MS); });
    }
    window.setTimeout(tick, POLL_MS);
    // A popup rendered with the page may be minutes old when it is opened: bring it up to date at once.
    this.map.on("popupopen", function () { window.setTimeout(fetchStates, 0); });
  };

  RegionMap.prototype.update = function (data) {
    var self = this;
    data.regions.forEach(function (entry) {
      var region = self.regions[entry.name];
      if (!region) return;
      if (JSON.stringify(region.entry) !== JSON.stringify(entry)) self.apply(region, entry);
    });
    this.sortForKeyboard();
    var open = data.open && this.regions[data.open.name];
    if (open && open.layer.isPopupOpen() && open.popupDigest !== data.open.digest) {
      var container = open.layer.getPopup().getElement();
      // Never pull the content from under a user who is using it: wait until focus leaves the popup.
      if (!(container && container.contains(document.activeElement))) {
        open.popupDigest = data.open.digest;
        var autoPan = open.layer.getPopup().options.autoPan;
        open.layer.getPopup().options.autoPan = false;
        open.layer.getPopup().setContent(data.open.html);
        open.layer.getPopup().options.autoPan = autoPan;
      }
    }
  };

  window.RegionMap = {
    MIN_ACROSS_PX: MIN_ACROSS_PX,
    init: function (map, layers, entries, popupDigests) {
      window.RegionMap.current = new RegionMap(map, layers, entries, popupDigests);
      return window.RegionMap.current;
    }
  };
})(window, document);
