// Calls to the platform's REST API from the tools: JSON with the session's CSRF token, errors turned into the
// server's own words (DRF answers {detail} or {field: [messages]}). Jobs are followed in jobs.js.
import { csrfToken } from "./config.js";

export class ApiError extends Error {}

// DRF error bodies, flattened to one line a person can act on ("files: …", "distances: …")
export function errorText(body, fallback) {
  if (!body || typeof body !== "object") return fallback;
  if (typeof body.detail === "string") return body.detail;
  const parts = Object.entries(body).map(([field, value]) => {
    const text = Array.isArray(value) ? value.map((v) => (typeof v === "object" ? errorText(v, "") : v)).join(" ")
      : typeof value === "object" ? errorText(value, "") : String(value);
    return field === "non_field_errors" || field === "message" ? text : `${field}: ${text}`;
  });
  return parts.join("；") || fallback;
}

export async function send(method, path, body) {
  const options = { method, credentials: "same-origin", headers: { "X-CSRFToken": csrfToken() } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  if (response.status === 204) return null;
  const isJson = (response.headers.get("Content-Type") || "").includes("json");
  const answer = isJson ? await response.json() : null;
  if (!response.ok) {
    const error = new ApiError(errorText(answer, `${response.status} ${response.statusText}`));
    error.body = answer; // the server's {field: [messages]}, for a form that names its own fields
    throw error;
  }
  return answer;
}

export const getJSON = (path) => send("GET", path);
export const postJSON = (path, body) => send("POST", path, body);

// A file the server answered (PDF, PNG) saved by the browser under the name the server gave it
export async function download(path, body, fallbackName) {
  const response = await fetch(path, { method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() }, body: JSON.stringify(body) });
  if (!response.ok) {
    const answer = (response.headers.get("Content-Type") || "").includes("json") ? await response.json() : null;
    throw new ApiError(errorText(answer, `${response.status} ${response.statusText}`));
  }
  const name = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "")?.[1] || fallbackName;
  saveBlob(await response.blob(), name);
}

export function saveBlob(blob, name) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}
