// 熱點分析: an event layer (points), hot spots (Gi*, local Moran's I) or emerging hot spots (space-time), with an
// optional category, period, grid cell size and time step → POST /api/v1/analysis/hotspots/ or
// /api/v1/analysis/emerging-hotspots/ (a job); its progress bar, then the result layer in the tree (its legend says
// what each class means) and the summary: features per class, the neighbourhood used and the events left out.
import { config, layerTitle, numberFormat, t, url } from "./config.js";
import { el } from "./panel.js";
import { fillWithAllLayers } from "./state.js";
import { postJSON } from "./api.js";
import { followResultJob, outcome, whileWorking } from "./overlay.js";

const isPoints = (layer) => layer.kind === "vector" && /point/i.test(layer.geometry_type || "");

function eventLayerSelect() {
  const select = el("select", { id: "hotspot-layer", required: true });
  fillWithAllLayers(() => {
    const value = select.value;
    select.replaceChildren(...config.layers.filter(isPoints).map((layer) =>
      el("option", { value: layer.slug, selected: layer.slug === value }, layerTitle(layer))));
  });
  return select;
}

// the job's summary in sentences: the classes found, the neighbourhood used (derived or given), what was left out
export function summaryLines(summary) {
  const classes = Object.entries(summary.classes || {}).filter(([, n]) => n > 0)
    .map(([name, n]) => t("hotspot_class_count", { name: t(`hotspot_${name}`), n: numberFormat.format(n) }));
  const hood = summary.neighbourhood || {};
  const lines = [t("hotspot_events", { n: numberFormat.format(summary.events_analysed),
    locations: numberFormat.format(summary.locations),
    empty: numberFormat.format(summary.locations - summary.locations_with_events) })];
  if (summary.time) lines.push(t("hotspot_steps", { n: summary.time.steps, days: summary.time.step_days }));
  lines.push(hood.method === "k_nearest" ? t("hotspot_knn", { k: hood.k })
    : t(hood.derived ? "hotspot_band_derived" : "hotspot_band", { m: numberFormat.format(hood.distance_m) }));
  const left = Object.values(summary.left_out || {}).reduce((a, b) => a + b, 0);
  if (left) lines.push(t("hotspot_left_out", { n: numberFormat.format(left) }));
  return [...lines, ...classes];
}

export function createHotspotTool() {
  let node = null;

  function build() {
    if (!config.user) return el("p", { class: "hint" }, t("sign_in_first"));
    const layer = eventLayerSelect();
    const kind = el("select", { id: "hotspot-kind" },
      el("option", { value: "emerging" }, t("hotspot_kind_emerging")),
      el("option", { value: "hotspots" }, t("hotspot_kind_hotspots")));
    const category = el("input", { id: "hotspot-category", placeholder: t("hotspot_category_placeholder") });
    const cell = el("input", { id: "hotspot-cell", type: "number", min: "10", max: "10000", step: "10", value: "250" });
    const step = el("input", { id: "hotspot-step", type: "number", min: "1", max: "366", value: "7" });
    const start = el("input", { id: "hotspot-start", type: "date" });
    const end = el("input", { id: "hotspot-end", type: "date" });
    const stepRow = [el("label", { for: "hotspot-step" }, t("hotspot_step_days")), step];
    const status = el("p", { role: "status", class: "tool-status" });
    const jobs = el("ul", { class: "jobs" });
    const summary = el("ul", { class: "hotspot-summary" });
    kind.addEventListener("change", () => stepRow.forEach((n) => { n.hidden = kind.value !== "emerging"; }));
    const form = el("form", { class: "tool-form" },
      el("label", { for: "hotspot-layer" }, t("hotspot_layer")), layer,
      el("label", { for: "hotspot-kind" }, t("hotspot_kind")), kind,
      el("label", { for: "hotspot-category" }, t("hotspot_category")), category,
      el("label", { for: "hotspot-cell" }, t("hotspot_cell")), cell, ...stepRow,
      el("label", { for: "hotspot-start" }, t("hotspot_start")), start,
      el("label", { for: "hotspot-end" }, t("hotspot_end")), end,
      el("p", { class: "hint" }, t("hotspot_hint")),
      el("button", { type: "submit", class: "primary" }, t("hotspot_run")), status, jobs, summary);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      summary.replaceChildren();
      await whileWorking(form, status, async () => {
        const emerging = kind.value === "emerging";
        const body = { layer: layer.value, cell_size: Number(cell.value) || undefined,
          category: category.value.trim() || undefined,
          period: start.value || end.value ? { start: start.value || undefined, end: end.value || undefined }
            : undefined, ...(emerging ? { time_step_days: Number(step.value) || 7 } : {}) };
        const job = await postJSON(url(emerging ? "emerging_hotspots" : "hotspots"), body);
        const done = await followResultJob(job, jobs, job.options.title);
        status.textContent = outcome(done, job.options.title);
        const found = done.counts && done.counts.result;
        if (found) summary.replaceChildren(...summaryLines(found).map((line) => el("li", {}, line)));
      });
    });
    return form;
  }

  return { id: "hotspots", title: "tool_hotspots", glyph: "◉", render: () => (node ||= build()) };
}
