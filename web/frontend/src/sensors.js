// 物聯網感測器 at /sensors/: each sensor's latest value of a quantity on the map (/iot/sensors/latest/), its
// series as a chart (/iot/sensors/{id}/series/), the threshold alerts, how many readings were rejected, and where
// to add sensors (sensor-placement.js). 逐時回放 steps the map through every sensor's hourly means (playback.js):
// each marker recoloured and resized by its value at that hour, on one scale for the whole period.
import L from "./leaflet-global.js";
import { config, numberFormat, t, url } from "./config.js";
import { getJSON } from "./api.js";
import { lineChart } from "./chart.js";
import { createPageMap, lonLatBounds, setLegend } from "./pagemap.js";
import { el } from "./panel.js";
import { wirePlacement } from "./sensor-placement.js";
import { ago } from "./age.js";
import { playbackButton } from "./playback.js";
import { PM25_CLASSES, SPREAD, colorScale } from "./scales.js";

const $ = (id) => document.getElementById(id);
const map = createPageMap($("map"));
const drawn = L.layerGroup().addTo(map);
const page = { latest: null, selected: null, markers: {}, frames: null };
const NO_READING = "#bdbdbd";
const hourText = new Intl.DateTimeFormat(config.lang === "en" ? "en" : "zh-TW", { timeZone: "Asia/Taipei",
  year: "numeric", month: "2-digit", day: "2-digit", weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });

function latestOf(feature, quantity) {
  return feature.properties.latest[quantity];
}

function when(stamp) {
  return stamp ? stamp.replace("T", " ").slice(0, 16) : "—";
}

// seconds from a reading to the server's now (the server's clock, not the browser's)
function ageOf(stamp) {
  return (Date.parse(page.latest.freshness.now) - Date.parse(stamp)) / 1000;
}

function isStale(stamp) {
  return ageOf(stamp) > page.latest.freshness.stale_after_hours * 3600;
}

function sensorName(p) {
  const name = p.name ? el("span", { class: "small" }, ` ${p.name}`) : "";
  const twin = p.duplicate_name ? el("span", { class: "tag" }, t("duplicate_name")) : "";
  return [el("button", { type: "button", class: "link", onclick: () => showSeries(p.device_id) }, p.device_id), name, twin];
}

// 'latest' is only current when it is recent: say how old the newest reading is when the feed has stopped
function showFreshness(latest) {
  const f = latest.freshness;
  const box = $("stale-warning");
  box.hidden = !f.stale;
  box.textContent = f.stale ? t("stale_sensors", { n: f.stale, total: latest.features.length,
    hours: numberFormat.format(f.stale_after_hours), age: f.newest_reading ? ago(ageOf(f.newest_reading)) : "—" }) : "";
  if (f.duplicate_names.length) box.hidden = false;
  if (f.duplicate_names.length) box.append(el("br"), t("duplicate_names", { names: f.duplicate_names.join(config.lang === "en" ? ", " : "、") }));
  $("latest-heading").textContent = f.stale === latest.features.length && f.stale ? t("last_readings_heading")
    : t("latest_heading");
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
  page.markers = {};
  for (const f of features) {
    const [lon, lat] = f.geometry.coordinates;
    const { value, unit } = latestOf(f, quantity);
    const { observed_at: observed } = latestOf(f, quantity);
    const old = isStale(observed) ? ` (${ago(ageOf(observed))})` : "";
    page.markers[f.properties.device_id] = L.circleMarker([lat, lon], { radius: 8, color: "#333", weight: isStale(observed) ? 2 : 1,
      dashArray: isStale(observed) ? "3" : null, fillColor: color(value), fillOpacity: isStale(observed) ? 0.5 : 0.95 })
      .bindTooltip(`${f.properties.device_id} ${numberFormat.format(value)} ${unit}${old}`)
      .on("click", () => showSeries(f.properties.device_id)).addTo(drawn);
  }
  if (quantity === "pm25") {
    setLegend(map, t(page.latest.freshness.stale ? "legend_pm25_last" : "legend_pm25"), PM25_CLASSES.map(([top, c], i) => ({ color: c,
      label: i === PM25_CLASSES.length - 1 ? `> ${PM25_CLASSES[i - 1][0]}` : `≤ ${top}` })));
  } else if ($("quantity").selectedOptions.length) {  // none on a city whose sensors have no readings yet
    setLegend(map, $("quantity").selectedOptions[0].textContent, [{ color: SPREAD[0], label: t("low") },
      { color: SPREAD[4], label: t("high") }]);
  }
  $("sensors").replaceChildren(...page.latest.features.map((f) => {
    const reading = latestOf(f, quantity);
    const stale = reading && isStale(reading.observed_at);
    return el("tr", { "data-sensor": f.properties.device_id, class: stale ? "stale" : "" },
      el("td", {}, ...sensorName(f.properties)),
      el("td", { class: "value" }, reading ? numberFormat.format(reading.value) : "—"),
      el("td", {}, reading ? reading.unit : ""),
      el("td", { class: "small age" }, reading ? `${when(reading.observed_at)}（${stale ? "⚠ " : ""}${ago(ageOf(reading.observed_at))}）`
        : ""));
  }));
  if (page.selected) showSeries(page.selected);
}

// 逐時回放: every drawn sensor's hourly means of the quantity, one colour scale and size scale for the whole period
async function loadFrames(quantity) {
  const ids = Object.keys(page.markers);
  const series = await Promise.all(ids.map((id) =>
    getJSON(`${url("iot_series", { id: encodeURIComponent(id) })}?quantity=${quantity}&bucket=hour`)));
  const values = {};
  const times = new Set();
  series.forEach((s, i) => {
    values[ids[i]] = new Map(s.points.map((p) => [Date.parse(p.t), p.mean]));
    for (const p of s.points) times.add(Date.parse(p.t));
  });
  const all = Object.values(values).flatMap((m) => [...m.values()]);
  const lo = Math.min(...all);
  const hi = Math.max(...all, lo + 1e-9);
  const unit = page.latest.features.map((f) => f.properties.latest[quantity]).find(Boolean).unit;
  return { quantity, values, unit, lo, hi, color: colorScale(quantity, all), times: [...times].sort((a, b) => a - b) };
}

function drawHour(i) {
  const { times, values, unit, lo, hi, color } = page.frames;
  for (const [id, marker] of Object.entries(page.markers)) {
    const value = values[id]?.get(times[i]);
    if (value === undefined) {
      marker.setStyle({ fillColor: NO_READING, fillOpacity: 0.5, dashArray: "3", weight: 1 }).setRadius(5);
      marker.setTooltipContent(`${id} ${t("no_reading_hour")}`);
    } else {
      marker.setStyle({ fillColor: color(value), fillOpacity: 0.95, dashArray: null, weight: 1 })
        .setRadius(5 + 9 * ((value - lo) / (hi - lo)));
      marker.setTooltipContent(`${id} ${numberFormat.format(value)} ${unit}`);
    }
  }
}

function playbackLegend() {
  const { quantity, unit, lo, hi } = page.frames;
  const title = t("legend_playback", { quantity: $("quantity").selectedOptions[0].textContent, unit });
  const entries = quantity === "pm25" ? PM25_CLASSES.map(([top, c], i) => ({ color: c,
    label: i === PM25_CLASSES.length - 1 ? `> ${PM25_CLASSES[i - 1][0]} ${unit}` : `≤ ${top} ${unit}` }))
    : [{ color: SPREAD[0], label: `${numberFormat.format(lo)} ${unit}` }, { color: SPREAD[4], label: `${numberFormat.format(hi)} ${unit}` }];
  setLegend(map, title, [...entries, { color: NO_READING, label: t("no_reading_hour") }]);
}

async function startPlayback() {
  page.frames = await loadFrames($("quantity").value);
  if (!page.frames.times.length) throw new Error(t("no_readings"));
  playbackLegend();
  return { times: page.frames.times, label: (ms) => hourText.format(new Date(ms)), onStep: drawHour };
}

async function load() {
  const [latest, alerts, rejects] = await Promise.all([getJSON(url("iot_latest")), getJSON(url("iot_alerts")),
    getJSON(url("iot_rejects"))]);
  page.latest = latest;
  const quantities = [...new Set(latest.features.flatMap((f) => Object.keys(f.properties.latest)))].sort();
  $("quantity").replaceChildren(...quantities.map((q) => el("option", { value: q, selected: q === "pm25" }, t(`quantity_${q}`))));
  $("sensor-count").textContent = t("sensor_count", { n: latest.features.length });
  showFreshness(latest);
  draw();
  $("alerts").replaceChildren(...alerts.alerts.slice(0, 20).map((a) => el("li", {},
    t("alert_line", { id: a.device_id, quantity: t(`quantity_${a.quantity}`), value: numberFormat.format(a.value),
      above: numberFormat.format(a.above), at: when(a.observed_at) }))));
  $("alerts-empty").hidden = alerts.alerts.length > 0;
  const rows = Object.entries(rejects.rejected).flatMap(([source, reasons]) =>
    Object.entries(reasons).map(([reason, n]) => el("tr", {}, el("td", {}, t(`channel_${source}`)),
      el("td", {}, t(`reject_${reason}`)),
      el("td", {}, numberFormat.format(n)))));
  $("rejects").replaceChildren(...rows);
  $("rejects-empty").hidden = rows.length > 0;
  const bounds = lonLatBounds(latest.features);
  if (bounds) map.fitBounds(bounds, { padding: [30, 30] });
}

const player = playbackButton(map, $("playback-start"), $("playback"), { startKey: "playback_start",
  start: startPlayback, restore: draw });
$("quantity").addEventListener("change", () => { player.stop(); draw(); });
load().catch((err) => { $("load-error").textContent = err.message; });
wirePlacement(map);
window.civgis = { map, page };
