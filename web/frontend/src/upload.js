// 圖檔上傳: drop files (or choose them) → POST /api/v1/layers/ (multipart `files`), the same import pipeline as
// the API, with the options the form sets (title, theme, visibility, a CRS and an encoding for files that do not
// say). Each dataset gets a progress bar: the upload's bytes (XMLHttpRequest), then the import job's own
// progress; then its report, or its errors naming the file, row and field. A shapefile's parts travel together.
// A name a visible layer already has: the server answers 409 with the choices — a new version of that layer, a
// new layer beside it, or cancel — and the upload goes on as chosen. Each new layer is coloured with a palette
// colour no layer on the map uses, and the map zooms to it when its import is done.
import { config, csrfToken, layersBySlug, t, url } from "./config.js";
import { el } from "./panel.js";
import { errorText } from "./api.js";
import { jobProgress } from "./jobs.js";
import { showNewLayer } from "./catalog.js";
import { state } from "./state.js";

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

// the colours on the map now (each active layer's classes) and those already asked for by running uploads
const pendingColours = new Set();
function coloursInUse() {
  const used = new Set(pendingColours);
  for (const slug of state.active) {
    const style = layersBySlug[slug]?.style;
    if (!style) continue;
    used.add(style.fill_color);
    for (const c of style.classes || []) used.add(c.color);
  }
  return [...used].filter((c) => /^#[0-9a-fA-F]{6}$/.test(c || ""));
}

function post(files, fields, onUpload) {
  return new Promise((resolve) => {
    const form = new FormData();
    for (const file of files) form.append("files", file, file.name);
    for (const [key, value] of Object.entries(fields)) {
      for (const item of [value].flat()) if (item) form.append(key, item);
    }
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

// 409: which layer has the name, and a button per choice the server leaves open; resolves with the choice
function askAboutClash(progress, answer) {
  const clash = answer.clashes[0];
  const title = config.lang === "en" && clash.title_en ? clash.title_en : clash.title_zh;
  progress.node.dataset.status = "clash";
  progress.node.querySelector(".job-state").textContent = t("up_choose");
  return new Promise((resolve) => {
    const buttons = answer.choices.map((choice) => el("button", { type: "button", "data-choice": choice,
      class: choice === "new_version" ? "primary" : "", onclick: () => resolve(choice) },
    t({ new_version: "up_new_version", new_layer: "up_new_layer", cancel: "up_cancel" }[choice])));
    progress.node.querySelector(".job-report").replaceChildren(el("div", { class: "clash", role: "group",
      "aria-label": t("up_clash", { title }) }, el("p", {}, t("up_clash", { title })), el("div", { class: "choices-row" }, buttons)));
    buttons[0].focus();
  });
}

async function uploadOne(files, list, fields, zoomTo) {
  const name = files.map((f) => f.name).join(" + ");
  const progress = jobProgress(name);
  list.append(progress.node);
  let answer = await post(files, { ...fields, on_clash: "ask" }, (fraction) => progress.uploading(fraction));
  if (answer.status === 409 && answer.body?.code === "name_clash") {
    const choice = await askAboutClash(progress, answer.body);
    progress.node.querySelector(".job-report").replaceChildren();
    if (choice === "cancel") {
      progress.update({ status: "cancelled", progress: 0 });
      progress.node.querySelector(".job-report").replaceChildren(el("p", {}, t("up_cancelled")));
      return;
    }
    answer = await post(files, { ...fields, on_clash: choice }, (fraction) => progress.uploading(fraction));
  }
  if (!answer.ok) {
    progress.failed(errorText(answer.body, answer.status ? `HTTP ${answer.status}` : t("upload_network")));
    return;
  }
  for (const job of answer.body) if (job.options?.color) pendingColours.add(job.options.color);
  await Promise.all(answer.body.map(async (job, i) => {
    const shown = i === 0 ? progress : jobProgress(job.source_name);
    if (i > 0) list.append(shown.node);
    const done = await shown.follow(job);
    pendingColours.delete(job.options?.color);
    if (done.status === "succeeded") {
      for (const slug of done.layers) await showNewLayer(slug);
      shown.update(done); // now with the new layers' titles
      const drawn = done.layers.find((slug) => layersBySlug[slug]?.bbox);
      if (drawn && zoomTo) zoomTo(drawn);
    }
  }));
}

// the options a file does not carry: empty ones are left to the server (the file's name, its own CRS …)
function optionsForm() {
  const themes = config.themes.map((theme) => el("option", { value: theme.slug },
    config.lang === "en" && theme.name_en ? theme.name_en : theme.name_zh));
  const row = (id, label, control, hint) => el("div", { class: "field" }, el("label", { for: id }, label), control,
    hint ? el("span", { class: "hint" }, hint) : null);
  const title = el("input", { id: "upload-title", name: "title", maxlength: "200", placeholder: t("up_title_hint") });
  const theme = el("select", { id: "upload-theme", name: "theme" }, el("option", { value: "" }, t("ld_choose")), themes);
  const visibility = el("select", { id: "upload-visibility", name: "visibility" },
    ["internal", "public", "restricted"].map((v) => el("option", { value: v }, t(`visibility_${v}`))));
  const crs = el("input", { id: "upload-crs", name: "crs", maxlength: "2000", inputmode: "text", placeholder: "3826" });
  const encoding = el("select", { id: "upload-encoding", name: "encoding" }, el("option", { value: "" }, t("up_encoding_auto")),
    el("option", { value: "utf-8" }, "UTF-8"), el("option", { value: "big5" }, "Big5"));
  const box = el("fieldset", { class: "upload-options" }, el("legend", {}, t("up_options")),
    row("upload-title", t("up_title"), title), row("upload-theme", t("up_theme"), theme),
    row("upload-visibility", t("up_visibility"), visibility),
    row("upload-crs", t("up_crs"), crs, t("up_crs_hint")), row("upload-encoding", t("up_encoding"), encoding));
  // a title names one layer: with several datasets dropped at once each keeps its file's name
  const values = (count) => ({ title: count === 1 ? title.value.trim() : "", theme: theme.value,
    visibility: visibility.value, crs: crs.value.trim(), encoding: encoding.value, avoid_colors: coloursInUse() });
  return { box, values };
}

export function createUploadTool(zoomTo) {
  let node = null;

  function build() {
    if (!config.user) return el("p", { class: "hint" }, t("sign_in_first"));
    const list = el("ul", { class: "jobs", "aria-label": t("upload_list") });
    const input = el("input", { type: "file", id: "upload-files", multiple: true, class: "visually-hidden" });
    const options = optionsForm();
    const start = (files) => {
      const groups = datasets([...files]);
      for (const group of groups) uploadOne(group, list, options.values(groups.length), zoomTo);
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
    return el("div", { class: "tool-form" }, options.box, input, zone, list);
  }

  return { id: "upload", title: "tool_upload", glyph: "⇪", render: () => (node ||= build()) };
}
