// 圖檔上傳: drop files (or choose them) → POST /api/v1/layers/ (multipart `files`), the same import pipeline as
// the API. Each dataset gets a progress bar: the upload's bytes (XMLHttpRequest), then the import job's own
// progress; then its report, or its errors naming the file, row and field. A shapefile's parts travel together.
import { config, csrfToken, t, url } from "./config.js";
import { el } from "./panel.js";
import { errorText } from "./api.js";
import { jobProgress } from "./jobs.js";
import { showNewLayer } from "./catalog.js";

const SHAPEFILE_PARTS = /\.(shp|shx|dbf|prj|cpg|qix|sbn|sbx|xml)$/i;

// files → datasets: a shapefile's parts by their common name, every other file on its own
export function datasets(files) {
  const groups = new Map();
  for (const file of files) {
    const key = SHAPEFILE_PARTS.test(file.name) ? file.name.replace(SHAPEFILE_PARTS, "").toLowerCase() : `\0${file.name}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(file);
  }
  return [...groups.values()];
}

function post(files, onUpload) {
  return new Promise((resolve) => {
    const form = new FormData();
    for (const file of files) form.append("files", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url("upload"));
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (e) => e.lengthComputable && onUpload(e.loaded / e.total));
    xhr.addEventListener("load", () => resolve({ ok: xhr.status === 202, body: xhr.response, status: xhr.status }));
    xhr.addEventListener("error", () => resolve({ ok: false, body: null, status: 0 }));
    xhr.send(form);
  });
}

async function uploadOne(files, list) {
  const name = files.map((f) => f.name).join(" + ");
  const progress = jobProgress(name);
  list.append(progress.node);
  const answer = await post(files, (fraction) => progress.uploading(fraction));
  if (!answer.ok) {
    progress.failed(errorText(answer.body, answer.status ? `HTTP ${answer.status}` : t("upload_network")));
    return;
  }
  await Promise.all(answer.body.map(async (job, i) => {
    const shown = i === 0 ? progress : jobProgress(job.source_name);
    if (i > 0) list.append(shown.node);
    const done = await shown.follow(job);
    if (done.status === "succeeded") {
      for (const slug of done.layers) await showNewLayer(slug);
      shown.update(done); // now with the new layers' titles
    }
  }));
}

export function createUploadTool() {
  let node = null;

  function build() {
    if (!config.user) return el("p", { class: "hint" }, t("sign_in_first"));
    const list = el("ul", { class: "jobs", "aria-label": t("upload_list") });
    const input = el("input", { type: "file", id: "upload-files", multiple: true, class: "visually-hidden" });
    const start = (files) => {
      for (const group of datasets([...files])) uploadOne(group, list);
    };
    input.addEventListener("change", () => {
      start(input.files);
      input.value = "";
    });
    const zone = el("label", { for: "upload-files", class: "dropzone" }, el("strong", {}, t("upload_drop")),
      el("span", {}, t("upload_formats")));
    zone.addEventListener("dragover", (e) => {
      e.preventDefault();
      zone.classList.add("over");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      start(e.dataTransfer.files);
    });
    return el("div", { class: "tool-form" }, input, zone, list);
  }

  return { id: "upload", title: "tool_upload", glyph: "⇪", render: () => (node ||= build()) };
}
