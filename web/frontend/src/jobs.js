// An analysis job: POST it (202 with the job), then poll /api/v1/imports/{id}/ and show its progress and latest
// message until it succeeds (resolves with the job) or fails (throws its reason).
import { t, url } from "./config.js";
import { getJSON, postJSON } from "./api.js";

const POLL_MS = 700;

export function showProgress(bar, message, job) {
  bar.hidden = false;
  bar.value = job.progress;
  bar.textContent = `${job.progress}%`;
  const last = job.messages && job.messages.length ? job.messages[job.messages.length - 1] : "";
  message.textContent = `${t(`job_${job.status}`)} ${job.progress}%${last ? ` — ${last}` : ""}`;
}

export async function runJob(path, body, bar, message) {
  let job = await postJSON(path, body);
  for (;;) {
    showProgress(bar, message, job);
    if (job.status === "succeeded") return job;
    if (job.status === "failed") throw new Error((job.errors && job.errors[0] && job.errors[0].message) || t("job_failed"));
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    job = await getJSON(url("job", { id: job.id }));
  }
}
