// The map of a decision page: the viewer's 2D map (same basemap, bounds and controls, from map2d.js) with a
// legend of the page's own symbols.
import L from "./leaflet-global.js";
import { config } from "./config.js";
import { createMap } from "./map2d.js";
import { startBasemap } from "./basemaps.js";
import { el } from "./panel.js";

export function createPageMap(element) {
  const map = createMap(element);
  startBasemap(map, config.basemaps[0]?.id, document.createElement("p")); // these pages have no status line
  return map;
}

// entries: [{color, label}]; replaced when called again
export function setLegend(map, title, entries) {
  if (map.pageLegend) map.removeControl(map.pageLegend);
  const control = L.control({ position: "bottomleft" });
  control.onAdd = () => el("div", { class: "page-legend" }, el("strong", {}, title),
    el("ul", {}, entries.map((e) => el("li", {}, el("span", { class: "dot", style: `--dot:${e.color}`, "aria-hidden": "true" }),
      e.label))));
  map.pageLegend = control.addTo(map);
}

export function lonLatBounds(features) {
  const points = features.filter((f) => f.geometry).map((f) => [f.geometry.coordinates[1], f.geometry.coordinates[0]]);
  return points.length ? L.latLngBounds(points) : null;
}

// a new site as the pages draw it: its pick order in a blue pin and, when it serves a radius, the circle it covers
export function addNumberedSite(group, [lon, lat], n, title, radius = null) {
  if (radius) {
    L.circle([lat, lon], { radius, color: "#1565c0", weight: 1, fillOpacity: 0.06, interactive: false }).addTo(group);
  }
  L.marker([lat, lon], { title, keyboard: false,
    icon: L.divIcon({ className: "site-pin", html: String(n), iconSize: [24, 24] }) }).addTo(group);
}
