// A job as a person follows it, for every kind of long work (upload, overlay, road widening, siting, Wi-Fi …): one
// polling loop over /api/v1/jobs/{id}/ and one widget — a progress bar, the state in words with the latest note, a
// cancel button while it runs, and (in the tools' per-file list) the report: counts, notes, errors with the file,
// row and field they name. The tools make a list item (jobProgress); the decision pages show it in their own bar and
// status line (runJob).
import { config, layersBySlug, layerTitle, numberFormat, t, url } from "./config.js";
import { getJSON, postJSON } from "./api.js";
import { el } from "./panel.js";

const FINISHED = ["succeeded", "failed", "cancelled"];
const POLL_MS = 600;

// Poll a job until it finishes, reporting each state; resolves with the finished job.
async function pollJob(id, onProgress, every = POLL_MS) {
  for (;;) {
    const job = await getJSON(url("job", { id }));
    onProgress(job);
    if (FINISHED.includes(job.status)) return job;
    await new Promise((resolve) => setTimeout(resolve, every));
  }
}

function problem(error) {
  const where = [error.file, error.rows?.length ? t("job_rows", { rows: error.rows.slice(0, 10).join(", ") }) : "",
    error.field ? t("job_field", { field: error.field }) : ""].filter(Boolean).join(config.lang === "en" ? ", " : "，");
  return el("li", {}, where ? el("strong", {}, `${where}${config.lang === "en" ? ": " : "："}`) : null,
    error.message || JSON.stringify(error));
}

function reportOf(job) {
  const parts = [];
  if (job.status === "succeeded") {
    const features = job.counts?.features || {};
    parts.push(el("p", {}, Object.entries(features).map(([slug, n]) =>
      t("job_loaded", { layer: layersBySlug[slug] ? layerTitle(layersBySlug[slug]) : slug,
        n: numberFormat.format(n) })).join("；") || t("job_done")));
  }
  if (job.messages?.length && job.status !== "running" && job.status !== "pending") {
    parts.push(el("details", {}, el("summary", {}, t("job_messages", { n: job.messages.length })),
      el("ul", {}, job.messages.map((m) => el("li", {}, m)))));
  }
  if (job.errors?.length) parts.push(el("ul", { class: "errors", role: "alert" }, job.errors.map(problem)));
  return parts;
}

// The widget over its parts: bar (<progress>), state (a line of text), optional report (a box) and node (where
// the state is kept as data-status). The cancel button is added after the state line.
function widget({ node, bar, state, report = null, name }) {
  // a page that runs its job again keeps the one button after its status line
  const cancel = state.nextElementSibling?.classList.contains("job-cancel") ? state.nextElementSibling
    : el("button", { type: "button", class: "job-cancel" });
  cancel.hidden = true;
  cancel.disabled = false;
  cancel.textContent = t("job_cancel");
  cancel.setAttribute("aria-label", t("job_cancel_of", { name }));
  state.after(cancel);
  let current = null;
  const self = {
    node,
    uploading(fraction) {
      bar.hidden = false;
      bar.value = Math.round(fraction * 100);
      state.textContent = t("job_uploading", { pct: Math.round(fraction * 100) });
    },
    failed(message) {
      node.dataset.status = "failed";
      state.textContent = t("job_failed");
      cancel.hidden = true;
      if (report) report.replaceChildren(el("ul", { class: "errors", role: "alert" }, el("li", {}, message)));
      else state.textContent = message;
    },
    update(job) {
      current = job;
      const running = !FINISHED.includes(job.status);
      node.dataset.status = job.status;
      bar.hidden = false;
      bar.value = job.status === "succeeded" ? 100 : job.progress;
      bar.textContent = `${bar.value}%`;
      // while it runs: its latest note (worded in the page's language); once done, the report or the answer says it
      const last = running && job.messages?.length ? job.messages[job.messages.length - 1] : "";
      state.textContent = `${t(`job_${job.status}`)} ${bar.value}%${last ? ` — ${last}` : ""}`;
      cancel.hidden = !running;
      cancel.disabled = Boolean(job.cancel_requested);
      if (job.cancel_requested && running) cancel.textContent = t("job_cancelling");
      if (report) report.replaceChildren(...reportOf(job));
    },
    follow: (job) => { self.update(job); return pollJob(job.id, self.update); },
  };
  cancel.onclick = async () => {
    if (!current) return;
    cancel.disabled = true;
    try {
      self.update(await postJSON(url("job_cancel", { id: current.id })));
    } catch (error) {
      cancel.disabled = false;
      state.textContent = error.message; // e.g. it finished meanwhile; the polling loop shows how
    }
  };
  return self;
}

// A list item for the tools' per-file list: name, state, bar, report.
export function jobProgress(name) {
  const bar = el("progress", { max: "100", value: "0", "aria-label": t("job_progress_of", { name }) });
  const state = el("span", { class: "job-state" }, t("job_waiting"));
  const report = el("div", { class: "job-report" });
  const head = el("div", { class: "job-head" }, el("span", { class: "job-name" }, name), state);
  const node = el("li", { class: "job" }, head, bar, report);
  return widget({ node, bar, state, report, name });
}

// A decision page's job: POST it (202 with the job), follow it in the page's bar and status line until it succeeds
// (resolves with the job) or fails or is cancelled (throws its reason).
export async function runJob(path, body, bar, message) {
  const started = await postJSON(path, body);
  const shown = widget({ node: bar, bar, state: message, name: started.source_name });
  const job = await shown.follow(started);
  if (job.status !== "succeeded") {
    throw new Error((job.errors && job.errors[0] && job.errors[0].message) || t(`job_${job.status}`));
  }
  return job;
}
