// 環域分析: buffer a drawn shape or a picked feature by one or more distances and summarise layers inside each
// zone (POST /api/v1/analysis/buffer/); rings on the map, a table of counts, sums and area-weighted figures,
// and the same table as CSV.
import L from "./leaflet-global.js";
import { config, layerTitle, numberFormat, t, url } from "./config.js";
import { el } from "./panel.js";
import { postJSON, saveBlob } from "./api.js";
import { subjectPicker, subjectRequest } from "./subject.js";
import { toCsv } from "./csv.js";
import { fitBesidePanel } from "./workbar.js";

const RING_COLORS = ["#c2185b", "#ef6c00", "#2e7d32", "#1565c0", "#6a1b9a"];
const DEFAULT_SUMMARISED = ["villages", "facilities"];

const label = (layer, name) => layer?.attributes.find((a) => a.name === name)?.label || name;

// one row per zone and layer: what the table shows and the CSV holds
export function summaryRows(report, layersBySlug) {
  return report.zones.flatMap((zone) => zone.summaries.map((s) => {
    const layer = layersBySlug[s.layer];
    return {
      distance: zone.distance_m, area_ha: zone.zone_area.ha, layer: layer ? layerTitle(layer) : s.title, count: s.count,
      weighted: Object.entries(s.area_weighted || {}).map(([name, value]) => [label(layer, name), value]),
      sums: Object.entries(s.sum).filter(([, v]) => v !== null).map(([name, value]) => [label(layer, name), value]),
    };
  }));
}

function figures(pairs, kind) {
  return el("ul", { class: `figures ${kind}` }, pairs.map(([name, value]) =>
    el("li", {}, `${name} `, el("data", { value: String(value) }, numberFormat.format(value)))));
}

// area layers show their area-weighted estimates (a village's whole population would overstate a zone); other
// layers the sums of their numeric attributes. The CSV holds both.
function table(rows) {
  const head = ["buffer_distance", "buffer_zone_area", "buffer_layer", "buffer_count", "buffer_figures"];
  return el("div", { class: "table-scroll" }, el("table", { class: "results", "aria-label": t("buffer_table") },
    el("thead", {}, el("tr", {}, head.map((key) => el("th", { scope: "col" }, t(key))))),
    el("tbody", {}, rows.map((r) => el("tr", {},
      el("td", {}, numberFormat.format(r.distance)), el("td", {}, numberFormat.format(r.area_ha)),
      el("th", { scope: "row" }, r.layer), el("td", {}, numberFormat.format(r.count)),
      el("td", {}, r.weighted.length ? [el("span", { class: "hint" }, t("buffer_weighted")), figures(r.weighted, "weighted")]
        : r.sums.length ? [el("span", { class: "hint" }, t("buffer_sums")), figures(r.sums, "sums")] : "—"))))));
}

function csv(rows) {
  const weighted = [...new Set(rows.flatMap((r) => r.weighted.map(([n]) => n)))];
  const sums = [...new Set(rows.flatMap((r) => r.sums.map(([n]) => n)))];
  const header = [t("buffer_distance"), t("buffer_zone_area"), t("buffer_layer"), t("buffer_count"),
    ...weighted.map((n) => `${t("buffer_weighted")}:${n}`), ...sums.map((n) => `${t("buffer_sums")}:${n}`)];
  return toCsv([header, ...rows.map((r) => {
    const w = Object.fromEntries(r.weighted);
    const s = Object.fromEntries(r.sums);
    return [r.distance, r.area_ha, r.layer, r.count, ...weighted.map((n) => w[n] ?? ""), ...sums.map((n) => s[n] ?? "")];
  })]);
}

export function createBufferTool(map, layersBySlug) {
  let node = null;
  const rings = L.featureGroup().addTo(map);
  let subject = null;

  function build() {
    const status = el("p", { role: "status", class: "tool-status" });
    const result = el("div", { class: "tool-result" });
    const picker = subjectPicker(map, { kinds: ["point", "line", "polygon"], pickable: () => true,
      onChange: (s) => { subject = s; } });
    const distances = el("input", { id: "buffer-distances", value: "300, 500, 1000", inputmode: "decimal", required: true });
    const vector = config.layers.filter((l) => l.kind === "vector");
    const choices = el("fieldset", { class: "choices" }, el("legend", {}, t("buffer_layers")),
      vector.map((layer) => el("label", {}, el("input", { type: "checkbox", value: layer.slug,
        checked: DEFAULT_SUMMARISED.includes(layer.slug) }), layerTitle(layer))));
    const form = el("form", { class: "tool-form" }, picker.node,
      el("label", { for: "buffer-distances" }, t("buffer_distances")), distances, choices,
      el("button", { type: "submit", class: "primary" }, t("buffer_run")), status, result);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const metres = distances.value.split(/[\s,，、]+/).filter(Boolean).map(Number);
      if (!subject) return void (status.textContent = t("subject_missing"));
      if (!metres.length || metres.some((m) => !(m > 0))) return void (status.textContent = t("buffer_bad_distances"));
      const layers = [...choices.querySelectorAll("input:checked")].map((box) => box.value);
      status.textContent = t("working");
      result.replaceChildren();
      try {
        const report = await postJSON(url("buffer"), { ...subjectRequest(subject), distances: metres, layers });
        showRings(report);
        const rows = summaryRows(report, layersBySlug);
        result.replaceChildren(table(rows), el("button", { type: "button", onclick: () => saveBlob(
          new Blob(["\ufeff", csv(rows)], { type: "text/csv;charset=utf-8" }), "buffer-summary.csv") }, t("csv_export")));
        status.textContent = t("buffer_done", { n: report.zones.length });
      } catch (error) {
        status.textContent = error.message;
      }
    });
    return form;
  }

  function showRings(report) {
    rings.clearLayers();
    [...report.zones].reverse().forEach((zone, i) => {
      const color = RING_COLORS[(report.zones.length - 1 - i) % RING_COLORS.length];
      L.geoJSON(zone.ring, { style: { color, weight: 2, fillColor: color, fillOpacity: 0.15 }, interactive: false })
        .addTo(rings);
    });
    fitBesidePanel(map, rings.getBounds());
  }

  return { id: "buffer", title: "tool_buffer", glyph: "◎", render: () => (node ||= build()) };
}
