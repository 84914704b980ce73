// The decision pages' requests: JSON with the session's CSRF token; a failure throws the API's own `detail`
// (it names the bad field), so the page can show the person why.
import { csrfToken, t } from "./config.js";

async function answer(response) {
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.detail || t("request_failed", { status: response.status }));
  return body;
}

export async function getJson(path) {
  return answer(await fetch(path, { credentials: "same-origin" }));
}

export async function postJson(path, body) {
  return answer(await fetch(path, {
    method: "POST", credentials: "same-origin", body: JSON.stringify(body),
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
  }));
}
