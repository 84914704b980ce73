// Measuring on the map: click the vertices, double-click (or Enter, or 完成) to finish; the figures come from
// the analysis API (geodesic on GRS80, areas also in 坪).
import L from "./leaflet-global.js";
import { csrfToken, numberFormat, t, url } from "./config.js";

const LINE = { color: "#d81b60", weight: 3, dashArray: "6 4" };

export function createMeasure(map, output) {
  let mode = null;
  let points = [];
  let shape = null;
  const vertices = L.layerGroup().addTo(map);

  function redraw() {
    if (shape) map.removeLayer(shape);
    shape = null;
    if (points.length > 1) shape = (mode === "area" ? L.polygon(points, LINE) : L.polyline(points, LINE)).addTo(map);
  }

  function click(e) {
    points.push(e.latlng);
    L.circleMarker(e.latlng, { radius: 4, color: LINE.color, fillOpacity: 1 }).addTo(vertices);
    redraw();
    output.textContent = t(mode === "area" ? "measure_area_hint" : "measure_line_hint");
  }

  async function finish() {
    if (!mode) return;
    const enough = mode === "area" ? points.length >= 3 : points.length >= 2;
    const kind = mode;
    stop(false);
    if (!enough) {
      output.textContent = t("measure_too_few");
      return;
    }
    const ring = points.map((p) => [p.lng, p.lat]);
    const geometry = kind === "area" ? { type: "Polygon", coordinates: [[...ring, ring[0]]] }
      : { type: "LineString", coordinates: ring };
    output.textContent = t("loading");
    const response = await fetch(url("measure"), {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ geometry, crs: 4326 }),
    });
    const body = await response.json();
    if (!response.ok) {
      output.textContent = body.detail || t("measure_failed");
      return;
    }
    output.dataset.geometry = JSON.stringify(geometry);
    output.textContent = describe(body.geodesic);
  }

  function describe(figures) {
    if (figures.area) {
      const a = figures.area;
      return t("measure_area_result", { m2: numberFormat.format(a.m2), ha: numberFormat.format(a.ha),
        ping: numberFormat.format(a.ping), perimeter: numberFormat.format(figures.perimeter.m) });
    }
    return t("measure_line_result", { m: numberFormat.format(figures.length.m), km: numberFormat.format(figures.length.km) });
  }

  function stop(clear = true) {
    map.off("click", click);
    map.off("dblclick", finishOnDblClick);
    map.doubleClickZoom.enable();
    map.getContainer().classList.remove("measuring");
    document.body.classList.remove("measuring");
    mode = null;
    if (clear) {
      points = [];
      vertices.clearLayers();
      redraw();
    }
    for (const b of document.querySelectorAll("[data-measure]")) b.setAttribute("aria-pressed", "false");
  }

  function finishOnDblClick(e) {
    L.DomEvent.stop(e);
    finish();
  }

  function start(kind) {
    const wasSame = mode === kind;
    stop();
    if (wasSame) {
      output.textContent = "";
      return;
    }
    mode = kind;
    map.doubleClickZoom.disable();
    map.on("click", click);
    map.on("dblclick", finishOnDblClick);
    map.getContainer().classList.add("measuring");
    document.body.classList.add("measuring");
    output.textContent = t(kind === "area" ? "measure_area_hint" : "measure_line_hint");
    document.querySelector(`[data-measure=${kind}]`).setAttribute("aria-pressed", "true");
  }

  document.addEventListener("keydown", (e) => {
    if (!mode) return;
    if (e.key === "Enter") finish();
    if (e.key === "Escape") {
      stop();
      output.textContent = "";
    }
  });
  return { start, finish, stop, get active() { return mode; } };
}
