// Where the cursor is, in WGS84 and TWD97 (TM2 zone 121), and going to typed coordinates in either.
import proj4 from "proj4";
import L from "./leaflet-global.js";
import { t } from "./config.js";

proj4.defs("EPSG:3826", "+proj=tmerc +lat_0=0 +lon_0=121 +k=0.9999 +x_0=250000 +y_0=0 +ellps=GRS80 +units=m +no_defs");
const toTwd97 = proj4("EPSG:4326", "EPSG:3826");

export function formatPosition(latlng) {
  const [x, y] = toTwd97.forward([latlng.lng, latlng.lat]);
  return { wgs84: `${latlng.lng.toFixed(6)}, ${latlng.lat.toFixed(6)}`, twd97: `${x.toFixed(1)}, ${y.toFixed(1)}` };
}

export function trackCursor(map, wgsBox, twdBox) {
  map.on("mousemove", (e) => {
    const p = formatPosition(e.latlng);
    wgsBox.textContent = p.wgs84;
    twdBox.textContent = p.twd97;
  });
}

// "121.3, 24.99" (lon, lat) or "250000, 2765000" (TWD97 X, Y): told apart by size
export function parseCoordinates(text) {
  const numbers = text.split(/[\s,，;]+/).filter(Boolean).map(Number);
  if (numbers.length !== 2 || numbers.some(Number.isNaN)) return null;
  let [a, b] = numbers;
  if (Math.abs(a) > 1000 && Math.abs(b) > 1000) [a, b] = proj4("EPSG:3826", "EPSG:4326").forward([a, b]);
  else if (Math.abs(a) < 90 && Math.abs(b) > 90) [a, b] = [b, a]; // lat, lon typed the other way round
  if (a < -180 || a > 180 || b < -90 || b > 90) return null;
  return L.latLng(b, a);
}

let marker = null;
export function goTo(map, text, message) {
  const latlng = parseCoordinates(text);
  if (!latlng) {
    message.textContent = t("goto_invalid");
    return false;
  }
  if (marker) map.removeLayer(marker);
  marker = L.marker(latlng, { title: text, alt: t("goto_marker") }).addTo(map);
  map.setView(latlng, Math.max(map.getZoom(), 17));
  const p = formatPosition(latlng);
  message.textContent = t("goto_done", p);
  return true;
}
