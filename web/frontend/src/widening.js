// 道路拓寬: pick a road (the roads layer) or draw its centre line, give the new width → the affected parcels from
// POST /api/v1/analysis/road-widening/report/, coloured by the share of each parcel taken, with the totals;
// 存成圖層 posts the same request to /api/v1/analysis/road-widening/ (a job) for a result layer.
import L from "./leaflet-global.js";
import { config, numberFormat, t, url } from "./config.js";
import { el } from "./panel.js";
import { postJSON } from "./api.js";
import { subjectPicker } from "./subject.js";
import { followResultJob, outcome } from "./overlay.js";
import { setActive, state } from "./state.js";
import { fitBesidePanel } from "./workbar.js";

const ROADS = "roads";
// share of the parcel taken (%) → colour, light to dark
export const SHARE_CLASSES = [[10, "#fee5d9"], [25, "#fcae91"], [50, "#fb6a4a"], [75, "#de2d26"], [Infinity, "#a50f15"]];
const shareColor = (pct) => SHARE_CLASSES.find(([upto]) => pct < upto)[1];

function legend() {
  let from = 0;
  return el("ul", { class: "legend share", "aria-label": t("widening_legend") }, SHARE_CLASSES.map(([upto, color]) => {
    const text = upto === Infinity ? `≥ ${from}%` : `${from}–${upto}%`;
    from = upto;
    return el("li", {}, el("span", { class: "swatch area", style: `--swatch:${color};--stroke:#7f0000`,
      "aria-hidden": "true" }), text);
  }));
}

function totals(found) {
  const rows = [["widening_parcels", found.parcels], ["widening_area_m2", found.affected_m2],
    ["widening_area_ping", found.affected_ping], ["widening_buildings", found.buildings_touched],
    ["widening_width", found.corridor_width_m], ["widening_length", found.centre_line_m]];
  return el("dl", { class: "totals" }, rows.flatMap(([key, value]) => [el("dt", {}, t(key)),
    el("dd", { "data-total": key }, numberFormat.format(value))]));
}

export function createWideningTool(map) {
  const parcels = L.featureGroup().addTo(map);
  let node = null;
  let subject = null;

  function request(width) {
    const road = subject.geometry ? { centreline: subject.geometry, crs: 4326 } : { road: { layer: subject.layer, id: subject.fid } };
    return { ...road, target_width: width, parcels: "parcels", buildings: "buildings" };
  }

  function show(report) {
    parcels.clearLayers();
    L.geoJSON(report, { style: (f) => ({ color: "#7f0000", weight: 1, fillColor: shareColor(f.properties.affected_pct),
      fillOpacity: 0.8 }), onEachFeature: (f, layer) => layer.bindTooltip(t("widening_parcel_tip", {
      section: f.properties.section ?? "", number: f.properties.parcel_no ?? f.properties.parcel_fid,
      pct: numberFormat.format(f.properties.affected_pct), m2: numberFormat.format(f.properties.affected_m2) })) })
      .addTo(parcels);
    if (report.features.length) fitBesidePanel(map, parcels.getBounds());
  }

  function build() {
    if (!config.user) return el("p", { class: "hint" }, t("sign_in_first"));
    const picker = subjectPicker(map, { kinds: ["line"], pickable: (layer) => layer.slug === ROADS,
      pickHint: "widening_pick_hint", onChange: (s) => { subject = s; } });
    const width = el("input", { id: "widening-width", type: "number", min: "1", max: "200", step: "0.5", value: "20",
      required: true });
    const status = el("p", { role: "status", class: "tool-status" });
    const result = el("div", { class: "tool-result" });
    const jobs = el("ul", { class: "jobs" });
    const save = el("button", { type: "button", hidden: true }, t("save_as_layer"));
    save.addEventListener("click", async () => {
      save.disabled = true;
      try {
        const job = await postJSON(url("widening"), { ...request(Number(width.value)), title: t("widening_result_title") });
        const done = await followResultJob(job, jobs, job.options.title);
        status.textContent = outcome(done, job.options);
      } catch (error) {
        status.textContent = error.message;
      } finally {
        save.disabled = false;
      }
    });
    const form = el("form", { class: "tool-form" }, picker.node,
      el("label", { for: "widening-width" }, t("widening_width_label")), width,
      el("button", { type: "submit", class: "primary" }, t("widening_run")), status, result, save, jobs);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!subject) return void (status.textContent = t("subject_missing"));
      status.textContent = t("working");
      try {
        const report = await postJSON(url("widening_report"), request(Number(width.value)));
        show(report);
        result.replaceChildren(totals(report.totals), legend());
        save.hidden = false;
        status.textContent = t("widening_done", { n: report.totals.parcels });
      } catch (error) {
        status.textContent = error.message;
      }
    });
    if (!state.active.includes(ROADS)) setActive(ROADS, true); // the road is picked from this layer
    return form;
  }

  return { id: "widening", title: "tool_widening", glyph: "⇹", render: () => (node ||= build()) };
}
