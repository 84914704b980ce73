// 免費無線上網熱點 at /wifi/: the hotspots coloured by their use flag (/wifi/usage/), a hotspot's daily sessions as
// a chart, coverage and the gaps ranked by people out of reach (/wifi/coverage/), and where k new hotspots would
// reach the most people (/wifi/recommend/, a job) with the expected gain.
import L from "./leaflet-global.js";
import { config, numberFormat, t, url } from "./config.js";
import { getJSON, postJSON } from "./api.js";
import { runJob } from "./jobs.js";
import { lineChart } from "./chart.js";
import { addNumberedSite, createPageMap, lonLatBounds, setLegend } from "./pagemap.js";
import { el } from "./panel.js";
import { ago } from "./age.js";
import { fillLayers } from "./pickers.js";
import { playbackButton } from "./playback.js";
import { SPREAD } from "./scales.js";

const $ = (id) => document.getElementById(id);
const map = createPageMap($("map"));
const FLAG_COLORS = { "under-used": "#1e88e5", normal: "#43a047", overloaded: "#e53935", "no usage records": "#9e9e9e" };
const spots = L.layerGroup().addTo(map);
const gapsDrawn = L.layerGroup().addTo(map);
const added = L.layerGroup().addTo(map);
const page = { usage: null, markers: {} };

const NO_RECORD = "#bdbdbd";

// which hotspots and which usage records: any point layer and any table of daily records the user may see
fillLayers($("hotspots-layer"), "hotspots");
fillLayers($("usage-table"), "usage");
export const sources = () => Object.fromEntries([["hotspots", $("hotspots-layer").value],
  ["usage", $("usage-table").value]].filter(([, slug]) => slug));

// one flag per hotspot for its colour: overloaded wins over under-used (both can hold on different days)
export function flagOf(hotspot) {
  for (const flag of ["overloaded", "under-used", "no usage records"]) if (hotspot.flags.includes(flag)) return flag;
  return "normal";
}

async function showSeries(id) {
  const hotspot = page.usage.hotspots.find((h) => h.id === id);
  $("chart-title").textContent = t("usage_of", { name: hotspot.name, id });
  $("chart-flags").textContent = t(`flag_${flagOf(hotspot)}`);
  $("chart-stats").textContent = t("usage_stats", { sessions: numberFormat.format(hotspot.mean_sessions),
    traffic: numberFormat.format(hotspot.mean_traffic_mb), capacity: numberFormat.format(100 * hotspot.days_at_capacity_share) });
  $("usage-chart").textContent = t("loading");
  $("chart-box").hidden = false;
  $("chart-box").dataset.hotspot = id;
  const body = await postJSON(url("wifi_usage"), { ...sources(), hotspot: id });
  lineChart($("usage-chart"), body.series.map((p) => ({ x: new Date(p.day), y: p.sessions })), t("sessions_per_day"));
  const marker = page.markers[id];
  if (marker) marker.openTooltip();
}

// usage is reported a day or so late: past the setting the page says the figures are not current
function showFreshness(f) {
  const box = $("wifi-stale-warning");
  const lines = [];
  if (f.stale) lines.push(t("stale_usage", { day: f.last_day ?? "—", age: ago(f.age_days * 86400),
    days: numberFormat.format(f.stale_after_days) }));
  if (f.duplicate_names.length) lines.push(t("duplicate_names", { names: f.duplicate_names.join(config.lang === "en" ? ", " : "、") }));
  box.replaceChildren(...lines.flatMap((line, i) => (i ? [el("br"), line] : [line])));
  box.hidden = !lines.length;
}

// 逐日回放: each hotspot coloured and sized by its sessions that day, on one scale for all the days
function drawDay(i) {
  const { days, sessions, lo, hi } = page.daily;
  for (const [id, marker] of Object.entries(page.markers)) {
    const n = sessions[id]?.[i];
    const name = page.usage.hotspots.find((h) => h.id === id)?.name ?? id;
    if (n === null || n === undefined) {
      marker.setStyle({ fillColor: NO_RECORD, fillOpacity: 0.5 }).setRadius(5);
      marker.setTooltipContent(`${name}｜${t("no_record_day")}`);
    } else {
      const share = (n - lo) / (hi - lo);
      marker.setStyle({ fillColor: SPREAD[Math.min(SPREAD.length - 1, Math.floor(share * SPREAD.length))], fillOpacity: 1 })
        .setRadius(4 + 10 * share);
      marker.setTooltipContent(`${name}｜${days[i]}｜${t("sessions_that_day", { n: numberFormat.format(n) })}`);
    }
  }
}

function restoreFlags() {
  for (const h of page.usage.hotspots) {
    page.markers[h.id]?.setStyle({ fillColor: FLAG_COLORS[flagOf(h)], fillOpacity: 1 }).setRadius(7)
      .setTooltipContent(`${h.name}｜${t(`flag_${flagOf(h)}`)}`);
  }
  setLegend(map, t("legend_wifi"), Object.entries(FLAG_COLORS).map(([flag, color]) => ({ color, label: t(`flag_${flag}`) })));
}

async function startPlayback() {
  const { daily } = await postJSON(url("wifi_usage"), { ...sources(), daily: true });
  const all = Object.values(daily.sessions).flat().filter((n) => n !== null);
  const lo = Math.min(...all);
  page.daily = { ...daily, lo, hi: Math.max(...all, lo + 1e-9) };
  setLegend(map, t("legend_sessions"), [{ color: SPREAD[0], label: t("sessions_that_day", { n: numberFormat.format(lo) }) },
    { color: SPREAD[4], label: t("sessions_that_day", { n: numberFormat.format(page.daily.hi) }) },
    { color: NO_RECORD, label: t("no_record_day") }]);
  return { times: daily.days, label: (day) => day, onStep: drawDay, steps: ["playback_day_back", "playback_day_forward"] };
}
const player = playbackButton(map, $("playback-start"), $("playback"), { startKey: "playback_days",
  start: startPlayback, restore: restoreFlags });

async function loadUsage() {
  const [usage, layer] = await Promise.all([postJSON(url("wifi_usage"), sources()),
    getJSON(`${url("features", { slug: sources().hotspots })}?limit=10000`)]);
  page.usage = usage;
  const where = Object.fromEntries(layer.features.map((f) => [String(f.properties.hotspot_id), f]));
  spots.clearLayers();
  page.markers = {};
  for (const h of usage.hotspots) {
    const feature = where[h.id];
    if (!feature) continue;
    const [lon, lat] = feature.geometry.coordinates;
    const flag = flagOf(h);
    page.markers[h.id] = L.circleMarker([lat, lon], { radius: 7, color: "#fff", weight: 1.5, fillColor: FLAG_COLORS[flag],
      fillOpacity: 1 }).bindTooltip(`${h.name}｜${t(`flag_${flag}`)}`).on("click", () => showSeries(h.id)).addTo(spots);
  }
  restoreFlags();
  const counts = {};
  for (const h of usage.hotspots) counts[flagOf(h)] = (counts[flagOf(h)] || 0) + 1;
  $("flag-summary").textContent = Object.keys(FLAG_COLORS).map((f) => `${t(`flag_${f}`)} ${counts[f] || 0}`).join("、");
  $("usage-rules").textContent = t("usage_rules", { share: numberFormat.format(usage.under_share),
    median: numberFormat.format(usage.median_sessions), days: numberFormat.format(100 * usage.overload_share) });
  showFreshness(usage.freshness);
  $("hotspots").replaceChildren(...usage.hotspots.map((h) => el("tr", { "data-hotspot": h.id },
    el("td", {}, el("button", { type: "button", class: "link", onclick: () => showSeries(h.id) }, h.name),
      h.duplicate_name ? el("span", { class: "tag", title: h.id }, t("duplicate_name")) : ""),
    el("td", {}, numberFormat.format(h.mean_sessions)),
    el("td", { class: "flag" }, el("span", { class: "dot", style: `--dot:${FLAG_COLORS[flagOf(h)]}`, "aria-hidden": "true" }),
      t(`flag_${flagOf(h)}`)),
    el("td", { class: `small age${h.stale ? " stale" : ""}` }, h.last_day
      ? `${h.stale ? "⚠ " : ""}${ago(h.age_days * 86400)}` : "—"))));
  const bounds = lonLatBounds(layer.features);
  if (bounds) map.fitBounds(bounds, { padding: [30, 30] });
}

$("coverage-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("coverage-error").textContent = "";
  $("coverage-result").hidden = true;
  try {
    const body = await postJSON(url("wifi_coverage"), { hotspots: sources().hotspots,
      radius: Number($("radius").value) });
    const total = body.total;
    $("covered-people").textContent = numberFormat.format(Math.round(total.covered_population));
    $("all-people").textContent = numberFormat.format(Math.round(total.population));
    $("covered-share").textContent = `${numberFormat.format(100 * total.covered_share)}%`;
    $("covered-area").textContent = numberFormat.format(total.covered_area_m2 / 1e6);
    gapsDrawn.clearLayers();
    const top = body.gaps.slice(0, 10);
    L.geoJSON({ type: "FeatureCollection", features: top.map((g) => ({ type: "Feature", geometry: g.geometry,
      properties: g })) }, { style: { color: "#6a1b9a", weight: 1.5, fillColor: "#ce93d8", fillOpacity: 0.5 },
    onEachFeature: (f, layer) => layer.bindTooltip(t("gap_tip", { rank: f.properties.rank,
      people: numberFormat.format(Math.round(f.properties.population)) })) }).addTo(gapsDrawn);
    $("gaps").replaceChildren(...top.map((g) => el("li", {}, t("gap_tip", { rank: g.rank, people: numberFormat.format(Math.round(g.population)) }))));
    $("coverage-result").hidden = false;
  } catch (err) {
    $("coverage-error").textContent = err.message;
  }
});

$("recommend-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("recommend-error").textContent = "";
  $("recommend-result").hidden = true;
  $("recommend").disabled = true;
  try {
    const job = await runJob(url("wifi_recommend"), { ...sources(), k: Number($("rec-k").value),
      radius: Number($("radius").value), relocate_underused: $("relocate").checked }, $("rec-progress"), $("rec-message"));
    const r = job.counts.result;
    $("before").textContent = numberFormat.format(r.before);
    $("after").textContent = numberFormat.format(r.after);
    $("gain").textContent = numberFormat.format(r.gain);
    $("moved").textContent = r.moved.length ? r.moved.join("、") : t("none");
    const result = await getJSON(`${url("features", { slug: job.layers[0] })}?limit=1000`);
    added.clearLayers();
    for (const f of result.features) {
      const n = f.properties.pick_order;
      addNumberedSite(added, f.geometry.coordinates, n, t("new_hotspot", { n }), Number($("radius").value));
    }
    $("recommend-result").dataset.job = String(job.id);
    $("recommend-result").hidden = false;
  } catch (err) {
    $("recommend-error").textContent = err.message;
  } finally {
    $("recommend").disabled = false;
  }
});

// signed out, the hotspots (a public layer) are still shown, uncoloured: their use is internal
async function loadPlaces() {
  const layer = await getJSON(`${url("features", { slug: sources().hotspots })}?limit=10000`);
  for (const f of layer.features) {
    const [lon, lat] = f.geometry.coordinates;
    L.circleMarker([lat, lon], { radius: 6, color: "#fff", weight: 1.5, fillColor: "#00897b", fillOpacity: 1 })
      .bindTooltip(f.properties.name).addTo(spots);
  }
}

function load() {
  player.stop();
  $("usage-error").textContent = "";
  spots.clearLayers();
  page.markers = {};
  if (!sources().hotspots) return;
  $("playback-box").hidden = !(config.signed_in && sources().usage);
  (config.signed_in && sources().usage ? loadUsage() : loadPlaces())
    .catch((err) => { $("usage-error").textContent = err.message; });
}
$("hotspots-layer").addEventListener("change", load);
$("usage-table").addEventListener("change", load);
load();
window.civgis = { map, page, spots };
