// 分享: POST /api/v1/views/ with the current view (and, when chosen, your markers) → a short link /s/{code};
// opening it lands on /?view={code}, which puts that view back from GET /api/v1/views/{code}/ — with only the
// layers the person opening it may see.
import { config, t, url } from "./config.js";
import { el } from "./panel.js";
import { getJSON, postJSON } from "./api.js";
import { applyLayers, currentView } from "./viewstate.js";
import { knownBasemap } from "./basemaps.js";

export async function restoreSharedView(code, { map, switchView, setBasemap, markers, status }) {
  let shared;
  try {
    shared = await getJSON(url("shared_view", { code }));
  } catch (error) {
    status.textContent = t("share_not_found", { code });
    return null;
  }
  const view = shared.state;
  await applyLayers(view.layers);
  if (knownBasemap(view.basemap)) setBasemap(view.basemap);
  map.setView([view.center[1], view.center[0]], view.zoom, { animate: false });
  if (view.mode === "3d") {
    const map3d = await switchView("3d");
    map3d?.jumpTo({ bearing: view.bearing, pitch: view.pitch });
  }
  markers.showSnapshots(view.markers);
  status.textContent = t("share_opened");
  return view;
}

export function createShareTool(live, markers) {
  let node = null;

  function build() {
    const withMarkers = el("input", { type: "checkbox", id: "share-markers", checked: true });
    const link = el("input", { id: "share-link", readonly: true, dir: "ltr" });
    const status = el("p", { role: "status", class: "tool-status" });
    const copy = el("button", { type: "button", disabled: true, onclick: async () => {
      link.select();
      try {
        await navigator.clipboard.writeText(link.value);
        status.textContent = t("share_copied");
      } catch {
        status.textContent = t("share_copy_manually");
      }
    } }, t("share_copy"));
    const form = el("form", { class: "tool-form" }, el("p", { class: "hint" }, t("share_explain")),
      config.user ? el("label", { class: "check" }, withMarkers, t("share_with_markers")) : null,
      el("button", { type: "submit", class: "primary" }, t("share_make")),
      el("label", { for: "share-link" }, t("share_link")), el("div", { class: "button-row" }, link, copy), status);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      status.textContent = t("working");
      try {
        const ids = config.user && withMarkers.checked ? markers.ids() : [];
        const made = await postJSON(url("share"), { state: currentView(live()), markers: ids });
        link.value = made.url;
        copy.disabled = false;
        link.focus();
        link.select();
        status.textContent = t("share_made");
      } catch (error) {
        status.textContent = error.message;
      }
    });
    return form;
  }

  return { id: "share", title: "tool_share", glyph: "⤴", render: () => (node ||= build()) };
}
