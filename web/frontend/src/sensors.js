// 物聯網感測器 at /sensors/: each sensor's latest value of a quantity on the map (/iot/sensors/latest/), its
// series as a chart (/iot/sensors/{id}/series/), the threshold alerts, how many readings were rejected, and where
// to add sensors (sensor-placement.js).
import L from "./leaflet-global.js";
import { numberFormat, t, url } from "./config.js";
import { getJSON } from "./api.js";
import { lineChart } from "./chart.js";
import { createPageMap, lonLatBounds, setLegend } from "./pagemap.js";
import { el } from "./panel.js";
import { wirePlacement } from "./sensor-placement.js";

const $ = (id) => document.getElementById(id);
const map = createPageMap($("map"));
const drawn = L.layerGroup().addTo(map);
// PM2.5 classes of Taiwan's AQI (μg/m³); other quantities are drawn on their own spread, low to high
const PM25_CLASSES = [[15.4, "#00e400"], [35.4, "#ffff00"], [54.4, "#ff7e00"], [150.4, "#ff0000"], [Infinity, "#8f3f97"]];
const SPREAD = ["#2c7bb6", "#abd9e9", "#ffffbf", "#fdae61", "#d7191c"];
const page = { latest: null, selected: null };

function colorScale(quantity, values) {
  if (quantity === "pm25") return (v) => PM25_CLASSES.find(([top]) => v <= top)[1];
  const lo = Math.min(...values);
  const hi = Math.max(...values, lo + 1e-9);
  return (v) => SPREAD[Math.min(SPREAD.length - 1, Math.floor(((v - lo) / (hi - lo)) * SPREAD.length))];
}

function latestOf(feature, quantity) {
  return feature.properties.latest[quantity];
}

function when(stamp) {
  return stamp ? stamp.replace("T", " ").slice(0, 16) : "—";
}

async function showSeries(deviceId) {
  const quantity = $("quantity").value;
  page.selected = deviceId;
  $("series-title").textContent = t("series_of", { id: deviceId, quantity: $("quantity").selectedOptions[0].textContent });
  $("series-chart").textContent = t("loading");
  $("series-box").hidden = false;
  $("series-box").dataset.sensor = deviceId;
  const series = await getJSON(`${url("iot_series", { id: encodeURIComponent(deviceId) })}?quantity=${quantity}&bucket=hour`);
  if (!series.points.length) {
    $("series-chart").textContent = t("no_readings");
    return;
  }
  lineChart($("series-chart"), series.points.map((p) => ({ x: new Date(p.t), y: p.mean })), t("hourly_mean"));
}

function draw() {
  const quantity = $("quantity").value;
  const features = page.latest.features.filter((f) => f.geometry && latestOf(f, quantity));
  const color = colorScale(quantity, features.map((f) => latestOf(f, quantity).value));
  drawn.clearLayers();
  for (const f of features) {
    const [lon, lat] = f.geometry.coordinates;
    const { value, unit } = latestOf(f, quantity);
    L.circleMarker([lat, lon], { radius: 8, color: "#333", weight: 1, fillColor: color(value), fillOpacity: 0.95 })
      .bindTooltip(`${f.properties.device_id} ${numberFormat.format(value)} ${unit}`)
      .on("click", () => showSeries(f.properties.device_id)).addTo(drawn);
  }
  if (quantity === "pm25") {
    setLegend(map, t("legend_pm25"), PM25_CLASSES.map(([top, c], i) => ({ color: c,
      label: i === PM25_CLASSES.length - 1 ? `> ${PM25_CLASSES[i - 1][0]}` : `≤ ${top}` })));
  } else {
    setLegend(map, $("quantity").selectedOptions[0].textContent, [{ color: SPREAD[0], label: t("low") },
      { color: SPREAD[4], label: t("high") }]);
  }
  $("sensors").replaceChildren(...page.latest.features.map((f) => {
    const reading = latestOf(f, quantity);
    return el("tr", { "data-sensor": f.properties.device_id },
      el("td", {}, el("button", { type: "button", class: "link", onclick: () => showSeries(f.properties.device_id) },
        f.properties.device_id)),
      el("td", { class: "value" }, reading ? numberFormat.format(reading.value) : "—"),
      el("td", {}, reading ? reading.unit : ""),
      el("td", { class: "small" }, reading ? when(reading.observed_at) : ""));
  }));
  if (page.selected) showSeries(page.selected);
}

async function load() {
  const [latest, alerts, rejects] = await Promise.all([getJSON(url("iot_latest")), getJSON(url("iot_alerts")),
    getJSON(url("iot_rejects"))]);
  page.latest = latest;
  const quantities = [...new Set(latest.features.flatMap((f) => Object.keys(f.properties.latest)))].sort();
  $("quantity").replaceChildren(...quantities.map((q) => el("option", { value: q, selected: q === "pm25" }, t(`quantity_${q}`))));
  $("sensor-count").textContent = t("sensor_count", { n: latest.features.length });
  draw();
  $("alerts").replaceChildren(...alerts.alerts.slice(0, 20).map((a) => el("li", {},
    t("alert_line", { id: a.device_id, quantity: t(`quantity_${a.quantity}`), value: numberFormat.format(a.value),
      above: numberFormat.format(a.above), at: when(a.observed_at) }))));
  $("alerts-empty").hidden = alerts.alerts.length > 0;
  const rows = Object.entries(rejects.rejected).flatMap(([source, reasons]) =>
    Object.entries(reasons).map(([reason, n]) => el("tr", {}, el("td", {}, source), el("td", {}, reason),
      el("td", {}, numberFormat.format(n)))));
  $("rejects").replaceChildren(...rows);
  $("rejects-empty").hidden = rows.length > 0;
  const bounds = lonLatBounds(latest.features);
  if (bounds) map.fitBounds(bounds, { padding: [30, 30] });
}

$("quantity").addEventListener("change", draw);
load().catch((err) => { $("load-error").textContent = err.message; });
wirePlacement(map);
window.civgis = { map, page };
