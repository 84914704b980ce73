// The map at `/`: wires the 2D map, the layer panel, search, coordinates, measuring and the 3D view together.
import { config, t } from "./config.js";
import { createMap, followState, identifyAndHover, redrawLayer, tileTimings, zoomToLayer } from "./map2d.js";
import { openStyleEditor } from "./style-editor.js";
import { createBasemapSwitcher, startBasemap } from "./basemaps.js";
import { buildPanel } from "./panel.js";
import { setActive, state } from "./state.js";
import { createSearch, describe } from "./search.js";
import { foundLayer, highlightMatch, markPoint } from "./highlight.js";
import { goTo, trackCursor } from "./coords.js";
import { createMeasure } from "./measure.js";
import { isDrawing } from "./draw.js";
import { startTools } from "./tools.js";
import { startAttributeTable } from "./attribute-table.js";
import { guardUnsaved, openRequestedDialog } from "./layer-dialog.js";
import { startTimeSlider } from "./timeslider.js";
import { startSwipe } from "./swipe.js";
import { startLive } from "./live.js";

const $ = (id) => document.getElementById(id);
const map = createMap($("map"));
startBasemap(map, config.basemaps[0]?.id, $("status"));
createBasemapSwitcher($("basemap"), map);
followState(map);
trackCursor(map, $("pos-wgs84"), $("pos-twd97"));
const measure = createMeasure(map, $("measure-output"));
identifyAndHover(map, () => measure.active || isDrawing() || document.body.classList.contains("editing"));
let map3d = null;
let view = "2d";

function fitBbox([w, s, e, n]) {
  if (view === "3d") map3d.fitBounds([[w, s], [e, n]], { padding: 40, pitch: map3d.getPitch() });
  else map.fitBounds([[s, w], [n, e]], { maxZoom: 18 });
}

const zoomTo = (slug) => (view === "3d" ? fitBbox(config.layers.find((l) => l.slug === slug).bbox) : zoomToLayer(map, slug));
buildPanel({ onZoom: zoomTo,
  onStyleEdit: (slug) => openStyleEditor(slug, { redraw: () => redrawLayer(map, slug), status: $("status") }) });

createSearch($("search-form"), $("search-results"), async (hit) => {
  if (hit.kind === "coordinate" || hit.kind === "address") {
    if (view === "3d") await switchView("2d");
    markPoint(map, hit);
    $("status").textContent = t("search_zoomed", { value: `${hit.value} · ${describe(hit)}` });
    return;
  }
  if (hit.kind === "layer") {
    setActive(hit.layer, true);
    if (hit.bbox) fitBbox(hit.bbox);
    $("status").textContent = t("search_zoomed", { value: hit.value });
    return;
  }
  setActive(hit.layer, true);
  fitBbox(hit.bbox);
  if (view === "2d") await highlightMatch(map, hit);
  $("status").textContent = t("search_zoomed", { value: hit.value });
});

$("goto-form").addEventListener("submit", (e) => {
  e.preventDefault();
  if (view === "3d") switchView("2d");
  if (goTo(map, $("goto-input").value, $("status"))) $("goto-dialog").close();
});
$("goto-open").addEventListener("click", () => $("goto-dialog").showModal());
for (const button of document.querySelectorAll("[data-close]")) {
  button.addEventListener("click", () => button.closest("dialog").close());
}
for (const button of document.querySelectorAll("[data-measure]")) {
  button.addEventListener("click", () => measure.start(button.dataset.measure));
}
$("measure-finish").addEventListener("click", () => measure.finish());
function showPanel(open) {
  document.body.classList.toggle("panel-open", open);
  $("panel-toggle").setAttribute("aria-expanded", String(open));
  (open ? $("panel-close") : $("panel-toggle")).focus();
}
$("panel-toggle").addEventListener("click", () => showPanel(!document.body.classList.contains("panel-open")));
$("panel-close").addEventListener("click", () => showPanel(false));

async function switchView(target) {
  if (target === view) return;
  const toggle = $("view-toggle");
  if (target === "3d") {
    measure.stop();
    window.civgis.swipe?.stop(); // the swipe compares on the 2D map
    toggle.disabled = true;
    const { create3d } = await import("./view3d.js");
    const c = map.getCenter();
    // MapLibre counts zoom in 512-px tiles, Leaflet in 256-px ones
    const where = { center: [c.lng, c.lat], zoom: map.getZoom() - 1 };
    document.body.classList.add("view-3d");
    if (!map3d) {
      map3d = create3d($("map3d"), where);
      window.civgis.map3d = map3d;
    } else {
      map3d.resize();
      map3d.jumpTo({ ...where, pitch: Math.max(map3d.getPitch(), 45) });
    }
    toggle.disabled = false;
  } else {
    const c = map3d.getCenter();
    document.body.classList.remove("view-3d");
    map.invalidateSize();
    map.setView([c.lat, c.lng], Math.round(map3d.getZoom() + 1), { animate: false });
  }
  view = target;
  toggle.textContent = t(view === "3d" ? "view_2d" : "view_3d");
  toggle.setAttribute("aria-pressed", String(view === "3d"));
  $("status").textContent = t(view === "3d" ? "now_3d" : "now_2d");
  for (const b of document.querySelectorAll("[data-measure], #measure-finish, #swipe-toggle")) b.disabled = view === "3d";
  return map3d;
}
$("view-toggle").addEventListener("click", () => switchView(view === "3d" ? "2d" : "3d"));

// for the browser tests and for anyone curious in the console: the live objects, never a stand-in
window.civgis = { map, map3d, state, tileTimings, measure, get view() { return view; }, switchView, foundLayer };
window.civgis.tools = startTools({ map, switchView, status: $("status"), live: () => ({ map, map3d, view }), zoomTo });
window.civgis.table = startAttributeTable(map, (text) => { $("status").textContent = text; });
window.civgis.time = startTimeSlider($("maps"), map);
window.civgis.swipe = startSwipe({ map, button: $("swipe-toggle"), container: $("maps"), slider: window.civgis.time });
window.civgis.live = startLive(map, $("status"), (event) => window.civgis.tools.edit?.changed(event));
guardUnsaved();
openRequestedDialog();
