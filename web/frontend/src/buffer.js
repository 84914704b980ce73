// 環域分析: buffer a drawn shape or a picked feature by one or more distances and summarise layers inside each
// zone (POST /api/v1/analysis/buffer/); rings on the map, a table of counts and of each layer's figures as their
// kind allows (sums, area-weighted estimates, means with ranges), and the same table as CSV.
import L from "./leaflet-global.js";
import { config, layerTitle, t, url } from "./config.js";
import { attributeLabel, attributeTitle, csvNumber, formatFigure, formatNumber } from "./values.js";
import { el } from "./panel.js";
import { fillWithAllLayers } from "./state.js";
import { postJSON, saveBlob } from "./api.js";
import { subjectPicker, subjectRequest } from "./subject.js";
import { toCsv } from "./csv.js";
import { fitBesidePanel } from "./workbar.js";

const RING_COLORS = ["#c2185b", "#ef6c00", "#2e7d32", "#1565c0", "#6a1b9a"];
const DEFAULT_SUMMARISED = ["villages", "facilities"];

// one row per zone and layer: what the table shows and the CSV holds; each figure comes labelled from the API
export function summaryRows(report, layersBySlug) {
  return report.zones.flatMap((zone) => zone.summaries.map((s) => {
    const layer = layersBySlug[s.layer];
    return { distance: zone.distance_m, area_ha: zone.zone_area.ha, layer: layer ? layerTitle(layer) : s.title,
      count: s.count, figures: s.figures };
  }));
}

// area layers' counts and measures are area-weighted estimates (a village's whole population would overstate a
// zone), said so and rounded to whole people; heights, years and ratios are averages with their range
function figures(list) {
  const estimated = list.some((f) => f.statistic === "estimate");
  return [estimated ? el("span", { class: "hint" }, t("buffer_weighted")) : null,
    el("ul", { class: "figures" }, list.map((f) => el("li", { "data-name": f.name, "data-kind": f.kind,
      "data-statistic": f.statistic }, el("span", { class: "figure-label" }, `${attributeLabel(f)} `),
    el("data", { value: String(f.value) }, formatFigure(f)))))];
}

function table(rows) {
  const head = ["buffer_distance", "buffer_zone_area", "buffer_layer", "buffer_count", "buffer_figures"];
  return el("div", { class: "table-scroll" }, el("table", { class: "results", "aria-label": t("buffer_table") },
    el("thead", {}, el("tr", {}, head.map((key) => el("th", { scope: "col" }, t(key))))),
    el("tbody", {}, rows.map((r) => el("tr", {},
      el("td", {}, formatNumber(r.distance, 0)), el("td", {}, formatNumber(r.area_ha, 2)),
      el("th", { scope: "row" }, r.layer), el("td", {}, formatNumber(r.count, 0)),
      el("td", {}, r.figures.length ? figures(r.figures) : "—"))))));
}

// CSV columns of one figure: a sum or an estimate is one number; a mean comes with its minimum and maximum
function csvColumns(f) {
  const title = attributeTitle(f);
  if (f.statistic === "mean") {
    return [[`${title}：${t("figure_average")}`, f.value], [`${title}：${t("figure_min")}`, f.min],
      [`${title}：${t("figure_max")}`, f.max]];
  }
  return [[f.statistic === "estimate" ? `${title}：${t("buffer_weighted")}` : title, f.value]];
}

function csv(rows) {
  const header = [];
  const decimals = {};
  const cells = rows.map((r) => Object.fromEntries(r.figures.flatMap((f) => csvColumns(f).map(([name, value]) => {
    if (!(name in decimals)) { header.push(name); decimals[name] = f.decimals; }
    return [name, value];
  }))));
  return toCsv([[t("buffer_distance"), t("buffer_zone_area"), t("buffer_layer"), t("buffer_count"), ...header],
    ...rows.map((r, i) => [csvNumber(r.distance, 0), csvNumber(r.area_ha, 2), r.layer, r.count,
      ...header.map((name) => csvNumber(cells[i][name], decimals[name]))])]);
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
    const choices = el("fieldset", { class: "choices" });
    fillWithAllLayers(() => { // every vector layer, once the page has them all (the ticks kept)
      const ticked = new Set([...choices.querySelectorAll("input:checked")].map((box) => box.value));
      const vector = config.layers.filter((l) => l.kind === "vector");
      choices.replaceChildren(el("legend", {}, t("buffer_layers")),
        ...vector.map((layer) => el("label", {}, el("input", { type: "checkbox", value: layer.slug,
          checked: ticked.size ? ticked.has(layer.slug) : DEFAULT_SUMMARISED.includes(layer.slug) }),
        layerTitle(layer))));
    });
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
