// 熱點分析: an event layer (points), hot spots (Gi*, local Moran's I) or emerging hot spots (space-time), with its
// categories (an event layer's as checkboxes, any other point layer's typed), the study area (the events' convex hull,
// a polygon layer, or only the cells with events), period, grid cell size and time step →
// POST /api/v1/analysis/hotspots/ or /api/v1/analysis/emerging-hotspots/ (a job); its progress bar, then the result
// layer in the tree (its legend says what each class means) and the summary: the categories and study area analysed,
// features per class, the neighbourhood used and the events left out.
import { config, layerTitle, layersBySlug, numberFormat, t, url } from "./config.js";
import { el } from "./panel.js";
import { fillWithAllLayers } from "./state.js";
import { getJSON, postJSON } from "./api.js";
import { followResultJob, outcome, whileWorking } from "./overlay.js";

const isPoints = (layer) => layer.kind === "vector" && /point/i.test(layer.geometry_type || "");
const isPolygons = (layer) => layer.kind === "vector" && /polygon/i.test(layer.geometry_type || "");
const STUDY_AREAS = ["convex_hull", "boundary", "cells_with_events"];

function layerSelect(id, keep, preferred) {
  const select = el("select", { id, required: true });
  fillWithAllLayers(() => {
    const value = select.value || preferred;
    select.replaceChildren(...config.layers.filter(keep).map((layer) =>
      el("option", { value: layer.slug, selected: layer.slug === value }, layerTitle(layer))));
    select.dispatchEvent(new Event("change"));
  });
  return select;
}

// the categories to analyse: an event layer's list as checkboxes (all ticked: every event), else a typed list
function categoryPicker() {
  const box = el("div", { class: "hotspot-categories" });
  let eventLayers = null; // the event layers this user may see, once: {slug: categories}
  let shown = null; // {slug, labels, boxes} of the event layer shown, or {slug, input}
  async function show(slug) {
    if (shown && shown.slug === slug) return;
    shown = { slug };
    const me = shown;
    eventLayers ||= getJSON(url("event_layers")).then((answer) =>
      Object.fromEntries(answer.results.map((e) => [e.slug, e.categories])), () => ({}));
    const categories = (await eventLayers)[slug]; // another point layer: its category attribute, if any, typed
    if (me !== shown) return;
    if (categories && categories.length) {
      me.labels = Object.fromEntries(categories.map((c) => [c.code, config.lang === "en" && c.label_en ? c.label_en : c.label]));
      me.boxes = categories.map((c) => el("input", { type: "checkbox", value: c.code, checked: true }));
      const all = el("button", { type: "button", onclick: () => me.boxes.forEach((b) => { b.checked = true; }) },
        t("hotspot_all"));
      const none = el("button", { type: "button", onclick: () => me.boxes.forEach((b) => { b.checked = false; }) },
        t("hotspot_none_chosen"));
      box.replaceChildren(el("fieldset", { class: "choices", id: "hotspot-categories" },
        el("legend", {}, t("hotspot_categories")),
        ...me.boxes.map((b, i) => el("label", {}, b, me.labels[categories[i].code])),
        el("span", { class: "button-row" }, all, none)));
    } else {
      me.input = el("input", { id: "hotspot-category", placeholder: t("hotspot_category_placeholder") });
      box.replaceChildren(el("label", { for: "hotspot-category" }, t("hotspot_category")), me.input);
    }
  }
  // the codes to send: undefined for every category; [] when every box is cleared (the form says so)
  function chosen() {
    if (!shown) return undefined;
    if (shown.input) {
      const typed = shown.input.value.split(/[,，、]/).map((c) => c.trim()).filter(Boolean);
      return typed.length ? typed : undefined;
    }
    if (!shown.boxes) return undefined;
    const ticked = shown.boxes.filter((b) => b.checked).map((b) => b.value);
    return ticked.length === shown.boxes.length ? undefined : ticked;
  }
  return { box, show, chosen, labels: () => (shown && shown.labels) || {} };
}

// the job's summary in sentences: the categories and the study area analysed, the cells (those without events
// counted as 0), the classes found, the neighbourhood used (derived or given), what was left out
export function summaryLines(summary, labels = {}) {
  const classes = Object.entries(summary.classes || {}).filter(([, n]) => n > 0)
    .map(([name, n]) => t("hotspot_class_count", { name: t(`hotspot_${name}`), n: numberFormat.format(n) }));
  const hood = summary.neighbourhood || {};
  const chosen = (summary.parameters || {}).category || [];
  const lines = [t("hotspot_chosen", { list: chosen.length ? chosen.map((c) => labels[c] || c).join(t("hotspot_sep"))
    : t("hotspot_all_categories") })];
  const area = summary.study_area;
  if (area) {
    const layer = layersBySlug[area.layer];
    lines.push(t(`hotspot_area_${area.kind}`, { layer: layer ? layerTitle(layer) : area.layer,
      km2: numberFormat.format(area.area_km2) }));
  }
  lines.push(t("hotspot_events", { n: numberFormat.format(summary.events_analysed),
    locations: numberFormat.format(summary.locations),
    empty: numberFormat.format(summary.locations - summary.locations_with_events) }));
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
    const layer = layerSelect("hotspot-layer", isPoints);
    const categories = categoryPicker();
    layer.addEventListener("change", () => { if (layer.value) categories.show(layer.value); });
    const study = el("select", { id: "hotspot-study", "aria-describedby": "hotspot-study-help" },
      ...STUDY_AREAS.map((k) => el("option", { value: k }, t(`hotspot_study_${k}`))));
    const studyHelp = el("p", { class: "hint", id: "hotspot-study-help" }, t("hotspot_study_convex_hull_help"));
    const boundary = layerSelect("hotspot-boundary", isPolygons, "districts");
    const boundaryRow = [el("label", { for: "hotspot-boundary" }, t("hotspot_boundary")), boundary];
    boundaryRow.forEach((n) => { n.hidden = true; });
    study.addEventListener("change", () => {
      boundaryRow.forEach((n) => { n.hidden = study.value !== "boundary"; });
      studyHelp.textContent = t(`hotspot_study_${study.value}_help`);
    });
    const kind = el("select", { id: "hotspot-kind" },
      el("option", { value: "emerging" }, t("hotspot_kind_emerging")),
      el("option", { value: "hotspots" }, t("hotspot_kind_hotspots")));
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
      categories.box,
      el("label", { for: "hotspot-study" }, t("hotspot_study")), study, studyHelp, ...boundaryRow,
      el("label", { for: "hotspot-cell" }, t("hotspot_cell")), cell, ...stepRow,
      el("label", { for: "hotspot-start" }, t("hotspot_start")), start,
      el("label", { for: "hotspot-end" }, t("hotspot_end")), end,
      el("p", { class: "hint" }, t("hotspot_hint")),
      el("button", { type: "submit", class: "primary" }, t("hotspot_run")), status, jobs, summary);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      summary.replaceChildren();
      const chosen = categories.chosen();
      if (chosen && !chosen.length) { status.textContent = t("hotspot_no_category"); return; }
      await whileWorking(form, status, async () => {
        const emerging = kind.value === "emerging";
        const body = { layer: layer.value, cell_size: Number(cell.value) || undefined, category: chosen,
          study_area: study.value, boundary: study.value === "boundary" ? boundary.value : undefined,
          period: start.value || end.value ? { start: start.value || undefined, end: end.value || undefined }
            : undefined, ...(emerging ? { time_step_days: Number(step.value) || 7 } : {}) };
        const job = await postJSON(url(emerging ? "emerging_hotspots" : "hotspots"), body);
        const done = await followResultJob(job, jobs, job.options.title);
        status.textContent = outcome(done, job.options);
        const found = done.counts && done.counts.result;
        if (found) summary.replaceChildren(...summaryLines(found, categories.labels()).map((line) => el("li", {}, line)));
      });
    });
    return form;
  }

  return { id: "hotspots", title: "tool_hotspots", glyph: "◉", render: () => (node ||= build()) };
}
