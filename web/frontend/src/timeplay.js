// What the time slider (timeslider.js) plays at fixed places: while it has a window, a registry layer's sensors on
// the map show their mean reading in that window (/iot/sensors/latest/?layer=…&time=…) and a Wi-Fi hotspot layer
// its hotspots' mean daily sessions on the window's days (the Wi-Fi usage analysis' daily records, read once) —
// circles coloured on the layer's scale and labelled with value and unit (zoomed in; on hover otherwise), with a
// legend in the slider. Without a window (全部時間) the layers show as styled. Which layers play, and the time they
// cover, the server says in each layer's `animation` (iot.timeline).
import L from "./leaflet-global.js";
import { config, layersBySlug, layerTitle, numberFormat, t, url } from "./config.js";
import { getJSON, postJSON } from "./api.js";
import { state, subscribe } from "./state.js";
import { el } from "./panel.js";
import { PM25_CLASSES, SPREAD, colorScale, spreadScale } from "./scales.js";

const NONE = "#bdbdbd";
// each value written beside its circle when zoomed in this far (or when there are only a few circles); otherwise
// on hover, so that a whole city's sensors do not bury each other's labels
const LABEL_ZOOM = 15;
const LABELS_ALWAYS_UP_TO = 12;
const DAY = 86400e3;
const CITY_DAY = "T00:00:00+08:00"; // the usage records' days are the city's (Asia/Taipei)

const quantityName = (code) => (config.strings[`quantity_${code}`] ? t(`quantity_${code}`) : code);

export function startTimePlay(map, box) {
  map.createPane("timeplay").style.zIndex = 640; // over the layers' tiles, under tooltips and popups
  const renderer = L.svg({ pane: "timeplay" });
  const group = L.layerGroup().addTo(map);
  const wifi = {}; // slug → its hotspots' places and daily sessions, read once
  const pick = el("select", { id: "time-play-quantity", "aria-label": t("play_quantity"),
    onchange: () => update() });
  const picker = el("label", { class: "time-play-pick", hidden: true }, `${t("play_quantity")} `, pick);
  const legend = el("div", { class: "time-play-legend", "aria-live": "polite" });
  box.replaceChildren(picker, legend);
  let shown = null; // what is drawn: [window, layers, quantity]
  let sequence = 0;
  const frames = {}; // slug → the circles drawn for it, for the console and the tests

  const playing = () => state.active.filter((slug) => layersBySlug[slug]?.animation);

  function quantities(slugs) {
    const units = {};
    for (const slug of slugs) Object.assign(units, layersBySlug[slug].animation.quantities || {});
    const codes = Object.keys(units).sort();
    if (codes.join() !== [...pick.options].map((o) => o.value).join()) {
      const before = pick.value;
      pick.replaceChildren(...codes.map((code) => el("option", { value: code }, quantityName(code))));
      pick.value = codes.includes(before) ? before : codes.includes("pm25") ? "pm25" : codes[0] || "";
    }
    picker.hidden = codes.length === 0;
    return units;
  }

  async function wifiData(slug) {
    if (!wifi[slug]) {
      const usage = layersBySlug[slug].animation.usage;
      wifi[slug] = Promise.all([postJSON(url("wifi_usage"), { hotspots: slug, usage, daily: true }),
        getJSON(`${url("features", { slug })}?limit=10000`)]).then(([{ daily }, layer]) => ({
        days: daily.days.map((day) => Date.parse(day + CITY_DAY)),
        spots: layer.features.filter((f) => f.geometry && daily.sessions[String(f.properties.hotspot_id)])
          .map((f) => ({ lonlat: f.geometry.coordinates, name: f.properties.name || String(f.properties.hotspot_id),
            sessions: daily.sessions[String(f.properties.hotspot_id)] })),
      }));
      wifi[slug].catch(() => delete wifi[slug]); // asked again next time
    }
    return wifi[slug];
  }

  // one layer's circles for the window: [{lonlat, name, value (null: none in the window), text}], its unit
  async function frame(slug, window, quantity, units) {
    const animation = layersBySlug[slug].animation;
    if (animation.kind === "sensors") {
      const body = await getJSON(`${url("iot_latest")}?${new URLSearchParams({ layer: slug, time: window })}`);
      const unit = units[quantity] || "";
      return { unit, quantity, items: body.features.filter((f) => f.geometry).map((f) => {
        const v = f.properties.values[quantity];
        const name = f.properties.name || f.properties.device_id;
        return { lonlat: f.geometry.coordinates, name, value: v ? v.mean : null,
          text: v ? t("play_sensor_value", { name, quantity: quantityName(quantity), value: numberFormat.format(v.mean),
            unit, n: numberFormat.format(v.n) }) : t("play_nothing", { name }) };
      }) };
    }
    const data = await wifiData(slug);
    const [start, end] = window.split("/").map((text) => Date.parse(text));
    const days = data.days.flatMap((day, i) => (day <= end && day + DAY > start ? [i] : []));
    return { unit: t("play_sessions_unit"), quantity: null, items: data.spots.map((spot) => {
      const values = days.map((i) => spot.sessions[i]).filter((n) => n !== null && n !== undefined);
      const value = values.length ? values.reduce((a, b) => a + b, 0) / values.length : null;
      return { lonlat: spot.lonlat, name: spot.name, value,
        text: value === null ? t("play_nothing", { name: spot.name }) : t("play_wifi_value", { name: spot.name,
          value: numberFormat.format(Math.round(value * 10) / 10), days: numberFormat.format(values.length) }) };
    }) };
  }

  function legendOf(slug, { unit, quantity, items }, color) {
    const layer = layerTitle(layersBySlug[slug]);
    const values = items.map((i) => i.value).filter((v) => v !== null);
    const title = quantity === null ? t("play_wifi_legend", { layer })
      : t("play_sensors_legend", { layer, quantity: quantityName(quantity), unit });
    const entries = quantity === "pm25"
      ? PM25_CLASSES.map(([top, c], i) => [c, i === PM25_CLASSES.length - 1 ? `> ${PM25_CLASSES[i - 1][0]} ${unit}` : `≤ ${top} ${unit}`])
      : values.length ? [[color(Math.min(...values)), `${numberFormat.format(Math.min(...values))} ${unit}`],
        [SPREAD[SPREAD.length - 1], `${numberFormat.format(Math.max(...values))} ${unit}`]] : [];
    return el("div", { class: "time-play-layer", "data-layer": slug }, el("strong", {}, title),
      el("ul", {}, [...entries, [NONE, t("play_no_reading")]].map(([c, label]) => el("li", {},
        el("span", { class: "dot", style: `--dot:${c}`, "aria-hidden": "true" }), label))));
  }

  let last = null; // the results drawn, drawn again when zooming crosses LABEL_ZOOM

  function draw(results) {
    last = results;
    group.clearLayers();
    const parts = [];
    const total = results.reduce((n, [, found]) => n + found.items.length, 0);
    const labelled = map.getZoom() >= LABEL_ZOOM || total <= LABELS_ALWAYS_UP_TO;
    for (const [slug, found] of results) {
      const values = found.items.map((i) => i.value).filter((v) => v !== null);
      const color = found.quantity ? colorScale(found.quantity, values) : spreadScale(values);
      frames[slug] = found.items.map(({ name, value }) => ({ name, value }));
      for (const item of found.items) {
        const [lon, lat] = item.lonlat;
        const marker = L.circleMarker([lat, lon], { renderer, radius: 8, color: "#333", weight: 1,
          fillColor: item.value === null ? NONE : color(item.value), fillOpacity: item.value === null ? 0.5 : 0.95,
          dashArray: item.value === null ? "3" : null, interactive: !labelled });
        if (!labelled) marker.bindTooltip(item.text);
        else {
          marker.bindTooltip(item.value === null ? "—" : `${numberFormat.format(Math.round(item.value * 10) / 10)} ${found.unit}`,
            { permanent: true, direction: "right", offset: [8, 0], className: "time-play-label" });
        }
        marker.addTo(group);
      }
      parts.push(legendOf(slug, found, color));
    }
    legend.replaceChildren(...parts);
  }

  async function update() {
    const slugs = playing();
    const units = quantities(slugs);
    const key = JSON.stringify([state.time, slugs, pick.value]);
    box.hidden = slugs.length === 0;
    if (key === shown) return;
    shown = key;
    const mine = ++sequence;
    if (!state.time || !slugs.length) {
      group.clearLayers();
      last = null;
      for (const slug of Object.keys(frames)) delete frames[slug];
      legend.replaceChildren(slugs.length ? el("p", { class: "hint" }, t("play_hint")) : "");
      return;
    }
    const window = state.time;
    try {
      const results = await Promise.all(slugs.map(async (slug) => [slug, await frame(slug, window, pick.value, units)]));
      if (mine === sequence) draw(results);
    } catch (err) {
      if (mine !== sequence) return;
      group.clearLayers();
      legend.replaceChildren(el("p", { class: "error" }, err.message));
      shown = null; // asked again on the next change
    }
  }

  let zoomedIn = map.getZoom() >= LABEL_ZOOM;
  map.on("zoomend", () => {
    if ((map.getZoom() >= LABEL_ZOOM) !== zoomedIn && last) draw(last);
    zoomedIn = map.getZoom() >= LABEL_ZOOM;
  });
  subscribe(() => { update(); });
  update();
  return { frames, update };
}
