// 輸出: the view as a PNG or a one-page A4/A3 PDF at a chosen scale (POST /api/v1/print/, drawn by the server with
// title, legend, scale bar and scale, north arrow, date and the markers on the map), and the data of the layers on the map for download
// (/api/v1/layers/{slug}/download/?format=…; html is a standalone interactive map made with folium).
import { config, layersBySlug, layerTitle, t, url } from "./config.js";
import { el } from "./panel.js";
import { download } from "./api.js";
import { currentView } from "./viewstate.js";
import { state, subscribe } from "./state.js";

const FORMATS = ["geojson", "csv", "gpkg", "shp", "html"];
// a CSV from the map is for a spreadsheet: its header row in labels with units (the API's default is column names)
const LABELLED = { csv: "&labels=1" };

function downloads() {
  const vector = state.active.filter((slug) => layersBySlug[slug]?.kind === "vector");
  if (!vector.length) return [el("li", { class: "hint" }, t("export_no_layers"))];
  return vector.map((slug) => el("li", {}, el("span", {}, layerTitle(layersBySlug[slug])), " ",
    FORMATS.map((format) => el("a", { href: `${url("download", { slug })}?format=${format}${LABELLED[format] || ""}`, download: "",
      "aria-label": t("export_download_named", { layer: layerTitle(layersBySlug[slug]), format: t(`format_${format}`) }) },
    t(`format_${format}`)))));
}

const SCALES = ["fit", "1000", "2500", "5000", "10000", "25000", "50000"];

export function createPrintTool(live, markers) {
  let node = null;

  function build() {
    const title = el("input", { id: "print-title", value: t("print_default_title"), maxlength: "120", required: true });
    const paper = el("select", { id: "print-paper" }, ["A4", "A3"].map((p) => el("option", { value: p }, p)));
    const orientation = el("select", { id: "print-orientation" }, ["landscape", "portrait"].map((o) =>
      el("option", { value: o }, t(`print_${o}`))));
    const scale = el("select", { id: "print-scale" }, SCALES.map((s) => el("option", { value: s },
      s === "fit" ? t("print_scale_fit") : `1:${Number(s).toLocaleString("en")}`)));
    const status = el("p", { role: "status", class: "tool-status" });
    const files = el("ul", { class: "downloads", "aria-label": t("export_data") }, downloads());
    subscribe(() => files.replaceChildren(...downloads()));
    const print = async (format) => {
      status.textContent = t("print_working");
      try {
        await download(url("print"), { state: currentView(live()), title: title.value.trim(), paper: paper.value,
          orientation: orientation.value, scale: scale.value, format,
          markers: config.user && markers ? markers.ids() : [] }, `civgis.${format}`);
        status.textContent = t("print_done", { format: format.toUpperCase() });
      } catch (error) {
        status.textContent = error.message;
      }
    };
    return el("div", { class: "tool-form" },
      el("label", { for: "print-title" }, t("print_title")), title,
      el("div", { class: "pair" }, el("div", {}, el("label", { for: "print-paper" }, t("print_paper")), paper),
        el("div", {}, el("label", { for: "print-orientation" }, t("print_orientation")), orientation)),
      el("label", { for: "print-scale" }, t("print_scale")), scale,
      el("div", { class: "button-row" },
        el("button", { type: "button", class: "primary", onclick: () => print("pdf") }, t("print_pdf")),
        el("button", { type: "button", onclick: () => print("png") }, t("print_png"))),
      status, el("h3", {}, t("export_data")), files);
  }

  return { id: "print", title: "tool_print", glyph: "▤", render: () => (node ||= build()) };
}
