// 地圖標記: your markers and those your groups share with you, from /api/v1/markers/ (GeoJSON). Add one by
// clicking the map, edit its title, text, colour, icon and sharing, drag it to move it, delete it; stored on the
// server, so a reload shows them. A shared view's marker snapshots are drawn read-only.
import L from "./leaflet-global.js";
import { config, t, url } from "./config.js";
import { el } from "./panel.js";
import { send } from "./api.js";
import { draw, isDrawing } from "./draw.js";

export const ICONS = { pin: "●", star: "★", flag: "⚑", warning: "!", info: "i", camera: "◙" };

function icon(props) {
  return L.divIcon({ className: "map-marker", iconSize: [26, 26], iconAnchor: [13, 26], popupAnchor: [0, -24],
    html: `<span style="--marker:${props.color}" data-icon="${props.icon}"><i>${ICONS[props.icon] || ICONS.pin}</i></span>` });
}

function popupContent(props) {
  return el("div", { class: "marker-popup" }, el("h3", {}, props.title), props.text ? el("p", {}, props.text) : null,
    props.owner ? el("p", { class: "hint" }, props.group ? t("marker_shared_by", { owner: props.owner, group: props.group })
      : t("marker_private")) : null);
}

export function createMarkersTool(map) {
  const drawn = L.layerGroup().addTo(map);
  const snapshots = L.layerGroup().addTo(map);
  const markers = new Map(); // id → {feature, leaflet}
  let node = null;
  let list = null;
  let editor = null;

  function place(feature) {
    markers.get(feature.id)?.leaflet.remove();
    const props = feature.properties;
    const [lon, lat] = feature.geometry.coordinates;
    const leaflet = L.marker([lat, lon], { icon: icon(props), draggable: props.editable, title: props.title,
      alt: props.title, keyboard: true }).bindPopup(() => popupContent(props)).addTo(drawn);
    leaflet.on("dragend", async () => {
      const p = leaflet.getLatLng();
      await save(feature.id, { type: "Feature", geometry: { type: "Point", coordinates: [p.lng, p.lat] }, properties: {} });
    });
    markers.set(feature.id, { feature, leaflet });
    renderList();
  }

  async function load() {
    if (!config.user) return;
    for (const feature of (await send("GET", url("markers"))).features) place(feature);
  }

  async function save(id, body) {
    const feature = await send(id ? "PATCH" : "POST", id ? url("marker", { id }) : url("markers"), body);
    place(feature);
    return feature;
  }

  async function remove(id) {
    await send("DELETE", url("marker", { id }));
    markers.get(id)?.leaflet.remove();
    markers.delete(id);
    renderList();
  }

  function renderList() {
    if (!list) return;
    list.replaceChildren(...[...markers.values()].map(({ feature, leaflet }) => {
      const props = feature.properties;
      return el("li", { "data-marker": String(feature.id) },
        el("span", { class: "swatch point", style: `--swatch:${props.color};--stroke:#333`, "aria-hidden": "true" }),
        el("button", { type: "button", class: "link", onclick: () => {
          map.setView(leaflet.getLatLng(), Math.max(map.getZoom(), 16));
          leaflet.openPopup();
        } }, props.title),
        props.editable ? el("button", { type: "button", class: "icon", "aria-label": t("marker_edit_named", { title: props.title }),
          title: t("marker_edit"), onclick: () => edit(feature) }, "✎") : null);
    }));
  }

  // the form for a new marker (at `at`) or an existing one
  function edit(feature, at = null) {
    const props = feature?.properties || { title: "", text: "", color: "#e4572e", icon: "pin", group: null };
    const title = el("input", { id: "marker-title", required: true, maxlength: "120", value: props.title });
    const text = el("textarea", { id: "marker-text", rows: "3" });
    text.value = props.text;
    const color = el("input", { id: "marker-color", type: "color", value: props.color });
    const kind = el("select", { id: "marker-icon" }, Object.keys(ICONS).map((name) =>
      el("option", { value: name, selected: name === props.icon }, `${ICONS[name]} ${t(`icon_${name}`)}`)));
    const group = el("select", { id: "marker-group" }, el("option", { value: "" }, t("marker_private")),
      config.user.groups.map((name) => el("option", { value: name, selected: name === props.group }, t("marker_share_with", { group: name }))));
    const status = el("p", { role: "status", class: "tool-status" });
    const form = el("form", { class: "tool-form marker-form", "aria-label": t(feature ? "marker_edit" : "marker_new") },
      el("h3", {}, t(feature ? "marker_edit" : "marker_new")),
      el("label", { for: "marker-title" }, t("marker_title")), title,
      el("label", { for: "marker-text" }, t("marker_text")), text,
      el("div", { class: "pair" }, el("div", {}, el("label", { for: "marker-color" }, t("marker_color")), color),
        el("div", {}, el("label", { for: "marker-icon" }, t("marker_icon")), kind)),
      el("label", { for: "marker-group" }, t("marker_sharing")), group,
      el("div", { class: "button-row" }, el("button", { type: "submit", class: "primary" }, t("save")),
        feature ? el("button", { type: "button", onclick: async () => {
          await remove(feature.id);
          closeEditor();
        } }, t("delete")) : null,
        el("button", { type: "button", onclick: closeEditor }, t("cancel"))), status);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const properties = { title: title.value.trim(), text: text.value, color: color.value, icon: kind.value,
        group: group.value || null };
      try {
        const geometry = at ? { type: "Point", coordinates: at } : undefined;
        await save(feature?.id, { type: "Feature", geometry, properties });
        closeEditor();
      } catch (error) {
        status.textContent = error.message;
      }
    });
    editor.replaceChildren(form);
    title.focus();
  }

  function closeEditor() {
    editor?.replaceChildren();
  }

  function build() {
    if (!config.user) return el("p", { class: "hint" }, t("sign_in_first_markers"));
    list = el("ul", { class: "marker-list", "aria-label": t("marker_list") });
    editor = el("div", {});
    const hint = el("p", { class: "hint", "aria-live": "polite" });
    const add = el("button", { type: "button", class: "primary", onclick: async () => {
      if (isDrawing()) return;
      hint.textContent = t("marker_click_hint");
      const point = await draw(map, "point");
      hint.textContent = "";
      if (point) edit(null, point.coordinates);
    } }, t("marker_add"));
    renderList();
    return el("div", { class: "tool-form" }, add, hint, editor, el("h3", {}, t("marker_list")), list);
  }

  function showSnapshots(list) {
    snapshots.clearLayers();
    for (const m of list || []) {
      L.marker([m.location[1], m.location[0]], { icon: icon(m), title: m.title, alt: m.title })
        .bindPopup(() => popupContent(m)).addTo(snapshots);
    }
  }

  load();
  return { id: "markers", title: "tool_markers", glyph: "⚑", render: () => (node ||= build()), showSnapshots,
    ids: () => [...markers.keys()] };
}
