// An analysis job: POST it (202 with the job), then poll /api/v1/imports/{id}/ and show its progress and latest
// message until it succeeds (resolves with the job) or fails (throws its reason).
import { t } from "./config.js";
import { pollJob, postJSON } from "./api.js";

const POLL_MS = 700;

export function showProgress(bar, message, job) {
  bar.hidden = false;
  bar.value = job.progress;
  bar.textContent = `${job.progress}%`;
  // the worker's notes come worded in the page's language; once done, the answer itself says what happened
  const last = job.status !== "succeeded" && job.messages && job.messages.length ? job.messages[job.messages.length - 1] : "";
  message.textContent = `${t(`job_${job.status}`)} ${job.progress}%${last ? ` — ${last}` : ""}`;
}

export async function runJob(path, body, bar, message) {
  const started = await postJSON(path, body);
  showProgress(bar, message, started);
  const job = await pollJob(started.id, (state) => showProgress(bar, message, state), POLL_MS);
  if (job.status !== "succeeded") {
    throw new Error((job.errors && job.errors[0] && job.errors[0].message) || t("job_failed"));
  }
  return job;
}
