// A job's progress as a person sees it: a progress bar (upload, then the job's own percentage), its state in words,
// the import report (counts, messages) and its errors with the file, row and field they name.
import { config, layersBySlug, layerTitle, numberFormat, t } from "./config.js";
import { el } from "./panel.js";

function problem(error) {
  const where = [error.file, error.rows?.length ? t("job_rows", { rows: error.rows.slice(0, 10).join(", ") }) : "",
    error.field ? t("job_field", { field: error.field }) : ""].filter(Boolean).join(config.lang === "en" ? ", " : "，");
  return el("li", {}, where ? el("strong", {}, `${where}${config.lang === "en" ? ": " : "："}`) : null,
    error.message || JSON.stringify(error));
}

export function jobProgress(name) {
  const bar = el("progress", { max: "100", value: "0", "aria-label": t("job_progress_of", { name }) });
  const state = el("span", { class: "job-state" }, t("job_waiting"));
  const report = el("div", { class: "job-report" });
  const node = el("li", { class: "job" }, el("div", { class: "job-head" }, el("span", { class: "job-name" }, name), state),
    bar, report);

  return {
    node,
    uploading(fraction) {
      bar.value = Math.round(fraction * 100);
      state.textContent = t("job_uploading", { pct: Math.round(fraction * 100) });
    },
    failed(message) {
      node.dataset.status = "failed";
      state.textContent = t("job_failed");
      report.replaceChildren(el("ul", { class: "errors", role: "alert" }, el("li", {}, message)));
    },
    update(job) {
      node.dataset.status = job.status;
      bar.value = job.status === "succeeded" ? 100 : job.progress;
      state.textContent = `${t(`job_${job.status}`)} ${job.status === "running" ? `${job.progress}%` : ""}`.trim();
      const parts = [];
      const features = job.counts?.features || {};
      if (job.status === "succeeded") {
        parts.push(el("p", {}, Object.entries(features).map(([slug, n]) =>
          t("job_loaded", { layer: layersBySlug[slug] ? layerTitle(layersBySlug[slug]) : slug,
            n: numberFormat.format(n) })).join("；") || t("job_done")));
      }
      if (job.messages?.length && job.status === "succeeded") {
        parts.push(el("details", {}, el("summary", {}, t("job_messages", { n: job.messages.length })),
          el("ul", {}, job.messages.map((m) => el("li", {}, m)))));
      }
      if (job.errors?.length) parts.push(el("ul", { class: "errors", role: "alert" }, job.errors.map(problem)));
      report.replaceChildren(...parts);
    },
  };
}
