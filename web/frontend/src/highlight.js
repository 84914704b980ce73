// What the search found, shown on the 2D map until cleared: the matching features outlined and flashing (SVG, so
// CSS can animate them), or a marker with its label and match level for an address or typed coordinates.
import L from "./leaflet-global.js";
import { t, url } from "./config.js";
import { describe } from "./search.js";

const renderer = L.svg({ padding: 0.5 });
const OUTLINE = { className: "found-outline", color: "#d500f9", weight: 4, opacity: 1, fill: false, renderer };
let found = null;
let clearControl = null;

export function clearFound(map) {
  if (found) map.removeLayer(found);
  found = null;
  if (clearControl) clearControl.remove();
  clearControl = null;
}

function offerClear(map) {
  if (clearControl) return;
  const Control = L.Control.extend({
    onAdd() {
      const button = L.DomUtil.create("button", "found-clear");
      button.type = "button";
      button.textContent = t("found_clear");
      L.DomEvent.disableClickPropagation(button);
      button.addEventListener("click", () => clearFound(map));
      return button;
    },
  });
  clearControl = new Control({ position: "topright" }).addTo(map);
}

function start(map) {
  clearFound(map);
  found = L.featureGroup().addTo(map);
  offerClear(map);
  return found;
}

// a point found by address or coordinates: a marker that says what it is and how well it matched
export function markPoint(map, hit) {
  const group = start(map);
  const latlng = L.latLng(hit.lat, hit.lon);
  const label = hit.kind === "address" ? hit.label : `${hit.lon.toFixed(6)}, ${hit.lat.toFixed(6)}`;
  const marker = L.marker(latlng, { title: label, alt: t("goto_marker") }).addTo(group);
  const tip = document.createElement("div");
  tip.className = "found-tooltip";
  tip.setAttribute("role", "status");
  tip.innerHTML = "<strong></strong><br><span></span>";
  tip.querySelector("strong").textContent = label;
  tip.querySelector("span").textContent = describe(hit);
  if (hit.kind === "address") tip.dataset.level = hit.level;
  // the label is a marker of its own, not a Leaflet tooltip: a permanent tooltip opened during a zoom animation
  // can stay on the map after its marker is removed
  L.marker(latlng, { icon: L.divIcon({ className: "found-label", html: tip, iconSize: null }), interactive: false,
    keyboard: false, zIndexOffset: 1000 }).addTo(group);
  L.circleMarker(latlng, { ...OUTLINE, radius: 14 }).addTo(group);
  map.setView(latlng, Math.max(map.getZoom(), hit.kind === "address" && hit.level !== "exact" ? 17 : 18));
  return marker;
}

// the features of a place or feature match (layer, attribute, value), outlined; answers how many
export async function highlightMatch(map, hit) {
  const group = start(map);
  const base = url("feature", { slug: hit.layer, fid: "0" }).replace(/0\/$/, "");
  const query = new URLSearchParams({ [hit.attribute]: hit.value, limit: "200" });
  const response = await fetch(`${base}?${query}`, { credentials: "same-origin" });
  if (!response.ok) return 0;
  const data = await response.json();
  L.geoJSON(data, { style: () => OUTLINE, pointToLayer: (_f, latlng) => L.circleMarker(latlng, { ...OUTLINE, radius: 10 }) })
    .addTo(group);
  return data.features.length;
}

export function foundLayer() {
  return found;
}
