// Drawing a point, line or polygon on the 2D map with plain Leaflet events (click the vertices, double-click or
// Enter to finish, Esc to cancel), or picking a feature of a switched-on layer: what the analysis tools start from.
// From the keyboard: pan with the arrows, Space puts a vertex (or the point) at the crosshair in the map's centre.
import L from "./leaflet-global.js";
import { topFeatureAt } from "./map2d.js";

const SKETCH = { color: "#6a1b9a", weight: 3, dashArray: "5 4", fillOpacity: 0.1 };
let busy = false;
export const isDrawing = () => busy;

// One interaction at a time; resolves with what was drawn or picked, or null when cancelled.
function interact(map, onClick, onFinish) {
  // tools draw on the 2D map: from the 3D view, go back to it first
  if (document.body.classList.contains("view-3d")) document.getElementById("view-toggle").click();
  return new Promise((resolve) => {
    busy = true;
    document.body.classList.add("drawing");
    map.getContainer().classList.add("measuring");
    map.doubleClickZoom.disable();
    function end(result) {
      busy = false;
      document.body.classList.remove("drawing");
      map.getContainer().classList.remove("measuring");
      map.doubleClickZoom.enable();
      map.off("click", click);
      map.off("dblclick", dblclick);
      document.removeEventListener("keydown", key, true);
      resolve(result);
    }
    function click(e) {
      const done = onClick(e.latlng);
      if (done !== undefined) end(done);
    }
    function dblclick(e) {
      L.DomEvent.stop(e);
      end(onFinish());
    }
    function key(e) {
      if (e.key === " " && document.activeElement === map.getContainer()) {
        e.preventDefault();
        click({ latlng: map.getCenter() });
      } else if (e.key === "Escape") {
        e.stopPropagation();
        end(null);
      } else if (e.key === "Enter" && onFinish) {
        e.preventDefault();
        end(onFinish());
      }
    }
    map.on("click", click);
    map.on("dblclick", dblclick);
    document.addEventListener("keydown", key, true);
  });
}

const lonLat = (p) => [p.lng, p.lat];

export function draw(map, kind) {
  const points = [];
  const sketch = L.layerGroup().addTo(map);
  const redraw = () => {
    sketch.clearLayers();
    for (const p of points) L.circleMarker(p, { radius: 4, color: SKETCH.color, fillOpacity: 1 }).addTo(sketch);
    if (points.length > 1) (kind === "polygon" ? L.polygon : L.polyline)(points, SKETCH).addTo(sketch);
  };
  const finish = () => {
    const ring = points.map(lonLat);
    if (kind === "line" && ring.length >= 2) return { type: "LineString", coordinates: ring };
    if (kind === "polygon" && ring.length >= 3) return { type: "Polygon", coordinates: [[...ring, ring[0]]] };
    return null;
  };
  const click = (latlng) => {
    if (kind === "point") return { type: "Point", coordinates: lonLat(latlng) };
    // a double-click also fires two clicks: the same spot twice is one vertex
    const last = points[points.length - 1];
    if (!last || map.latLngToContainerPoint(last).distanceTo(map.latLngToContainerPoint(latlng)) > 3) {
      points.push(latlng);
      redraw();
    }
    return undefined;
  };
  return interact(map, click, kind === "point" ? null : finish).finally(() => map.removeLayer(sketch));
}

// A feature of a switched-on vector layer (the top one under the click), accepted by `accept(layer)`
export function pick(map, accept = () => true) {
  return interact(map, (latlng) => {
    const hit = topFeatureAt(latlng);
    if (!hit || !accept(hit.layer)) return undefined;
    return { layer: hit.layer, fid: hit.feature.properties.fid, properties: hit.feature.properties, latlng };
  }, null);
}
