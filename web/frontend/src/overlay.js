// 圖層套疊: two layers, an operation and optional filters → POST /api/v1/analysis/overlay/ (a job); its progress
// bar while it runs; the result appears as a new layer in the tree, switched on.
import { config, layerTitle, t, url } from "./config.js";
import { el } from "./panel.js";
import { fillWithAllLayers } from "./state.js";
import { postJSON } from "./api.js";
import { jobProgress } from "./jobs.js";
import { showNewLayer } from "./catalog.js";

const OPERATIONS = ["intersect", "clip", "erase", "union", "identity", "spatial_join"];

// "land_use=住宅區" per line (the features API's filter syntax, e.g. area_m2__gte=100) → {land_use: "住宅區"}
export function parseFilter(text) {
  const lines = text.split(/\n/).map((l) => l.trim()).filter(Boolean);
  if (!lines.length) return undefined;
  return Object.fromEntries(lines.map((line) => {
    const at = line.indexOf("=");
    if (at < 1) throw new Error(t("overlay_bad_filter", { line }));
    return [line.slice(0, at).trim(), line.slice(at + 1).trim()];
  }));
}

function layerSelect(id, chosen) {
  const select = el("select", { id, required: true });
  fillWithAllLayers(() => { // every vector layer, once the page has them all (the choice kept)
    const value = select.value || chosen;
    select.replaceChildren(...config.layers.filter((l) => l.kind === "vector").map((layer) =>
      el("option", { value: layer.slug, selected: layer.slug === value }, layerTitle(layer))));
  });
  return select;
}

// a result-layer job (overlay, road widening): its progress bar, then the new layer in the tree
export async function followResultJob(job, list, title) {
  const progress = jobProgress(title);
  list.replaceChildren(progress.node);
  const done = await progress.follow(job);
  if (done.status === "succeeded") {
    await showNewLayer(done.options.slug);
    progress.update(done); // now with the new layer's title
  }
  return done;
}

// what became of a result-layer job, in a sentence for the tool's status line (failed, cancelled or added); the
// result's title in the page's language (a job named by its analysis has an English title too)
export function outcome(done, options) {
  const title = layerTitle({ title_zh: options.title, title_en: options.title_en });
  return done.status === "succeeded" ? t("result_added", { title }) : t(`job_${done.status}`);
}

// a tool form's work: its submit button disabled and the status line saying so meanwhile; an error said there
export async function whileWorking(form, status, work) {
  const submit = form.querySelector("button[type=submit]");
  submit.disabled = true;
  status.textContent = t("working");
  try {
    await work();
  } catch (error) {
    status.textContent = error.message;
  } finally {
    submit.disabled = false;
  }
}

export function createOverlayTool() {
  let node = null;

  function build() {
    if (!config.user) return el("p", { class: "hint" }, t("sign_in_first"));
    const a = layerSelect("overlay-a", "buildings");
    const b = layerSelect("overlay-b", "flood-zones");
    const operation = el("select", { id: "overlay-operation" },
      OPERATIONS.map((op) => el("option", { value: op }, t(`overlay_${op}`))));
    const aFilter = el("textarea", { id: "overlay-a-filter", rows: "2", placeholder: "floors__gte=3" });
    const bFilter = el("textarea", { id: "overlay-b-filter", rows: "2", placeholder: "depth_min_m__gte=0.5" });
    const title = el("input", { id: "overlay-title", placeholder: t("overlay_title_placeholder") });
    const status = el("p", { role: "status", class: "tool-status" });
    const jobs = el("ul", { class: "jobs" });
    const form = el("form", { class: "tool-form" },
      el("label", { for: "overlay-a" }, t("overlay_a")), a,
      el("label", { for: "overlay-a-filter" }, t("overlay_a_filter")), aFilter,
      el("label", { for: "overlay-operation" }, t("overlay_operation")), operation,
      el("label", { for: "overlay-b" }, t("overlay_b")), b,
      el("label", { for: "overlay-b-filter" }, t("overlay_b_filter")), bFilter,
      el("label", { for: "overlay-title" }, t("result_title")), title,
      el("p", { class: "hint" }, t("overlay_filter_hint")),
      el("button", { type: "submit", class: "primary" }, t("overlay_run")), status, jobs);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      await whileWorking(form, status, async () => {
        const body = { a: a.value, b: b.value, operation: operation.value, a_filter: parseFilter(aFilter.value),
          b_filter: parseFilter(bFilter.value), title: title.value.trim() || undefined };
        const job = await postJSON(url("overlay"), body);
        const done = await followResultJob(job, jobs, job.options.title);
        status.textContent = outcome(done, job.options);
      });
    });
    return form;
  }

  return { id: "overlay", title: "tool_overlay", glyph: "▣", render: () => (node ||= build()) };
}
