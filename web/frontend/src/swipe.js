// Swipe comparison (捲簾比較): two switched-on layers, or one time-enabled layer at two times, side by side on the
// 2D map with a divider to drag (or move with the arrow keys). The left side shows its layer as the map does (with
// the time slider's window); the right side another layer, or the same or another layer at a window chosen here.
// Each side is the layer's own tiles clipped at the divider (the container's CSS clip, in the map pane's pixels,
// redrawn as the map moves); the other switched-on layers stay on both sides.
import { config, layersBySlug, layerTitle, t } from "./config.js";
import { drawnLayer, layerAtTime } from "./map2d.js";
import { state, subscribe } from "./state.js";
import { windowText } from "./timeslider.js";
import { el } from "./panel.js";

const SAME_TIME = ""; // the right side follows the slider too
const STEP = 0.05; // an arrow key moves the divider by 5 % of the map's width

export function startSwipe({ map, button, container, slider }) {
  let on = false;
  let fraction = 0.5;
  let extra = null; // the right side's own tiles: {key, grid} when it is not a switched-on layer as drawn
  let clipped = []; // containers clipped now, to unclip when the sides change

  const left = el("select", { id: "swipe-left", "aria-label": t("swipe_left") });
  const right = el("select", { id: "swipe-right", "aria-label": t("swipe_right") });
  const rightTime = el("select", { id: "swipe-right-time", "aria-label": t("swipe_right_time") });
  const timeField = el("label", { class: "swipe-time" }, t("swipe_right_time"), rightTime);
  const close = el("button", { type: "button", class: "icon", "aria-label": t("swipe_close"), title: t("swipe_close"),
    onclick: () => stop() }, "✕");
  const empty = el("p", { class: "swipe-empty", hidden: true }, t("swipe_need_layers"));
  const panel = el("section", { id: "swipe-panel", hidden: true, "aria-labelledby": "swipe-title" },
    el("header", {}, el("h2", { id: "swipe-title" }, t("swipe_title")), close),
    el("div", { class: "swipe-fields" }, el("label", {}, t("swipe_left"), left), el("label", {}, t("swipe_right"), right),
      timeField), empty);
  const leftTag = el("span", { class: "swipe-tag swipe-tag-left" });
  const rightTag = el("span", { class: "swipe-tag swipe-tag-right" });
  const handle = el("button", { type: "button", class: "swipe-handle", role: "separator", "aria-orientation": "vertical",
    "aria-label": t("swipe_divider"), "aria-valuemin": "0", "aria-valuemax": "100" }, "⇔");
  const divider = el("div", { id: "swipe-divider", hidden: true }, handle);
  const tags = el("div", { class: "swipe-tags", hidden: true }, leftTag, rightTag);
  container.append(panel, divider, tags);
  for (const node of [panel, divider]) {
    node.addEventListener("pointerdown", (e) => e.stopPropagation()); // the map does not pan under them
    node.addEventListener("click", (e) => e.stopPropagation());
    node.addEventListener("dblclick", (e) => e.stopPropagation());
    node.addEventListener("wheel", (e) => e.stopPropagation());
  }

  const candidates = () => state.active.filter((slug) => layersBySlug[slug] && layersBySlug[slug].kind !== "service");
  const option = (slug) => el("option", { value: slug }, layerTitle(layersBySlug[slug]));

  function fillChoices() {
    const slugs = candidates();
    const keep = [left.value, right.value];
    left.replaceChildren(...slugs.map(option));
    right.replaceChildren(...slugs.map(option));
    left.value = slugs.includes(keep[0]) ? keep[0] : slugs[0] || "";
    // by default the other layer, or the same one when it alone can be compared (at two times)
    right.value = slugs.includes(keep[1]) ? keep[1] : slugs.find((s) => s !== left.value) || slugs[0] || "";
    fillTimes();
    empty.hidden = slugs.length > 0;
  }

  function fillTimes() {
    const layer = layersBySlug[right.value];
    const keep = rightTime.value;
    const windows = layer?.time ? slider.windows() : [];
    rightTime.replaceChildren(el("option", { value: SAME_TIME }, t("swipe_same_time")),
      el("option", { value: "all" }, t("time_all")), ...windows.map((w) => el("option", { value: w }, windowText(w))));
    rightTime.value = [SAME_TIME, "all", ...windows].includes(keep) ? keep : SAME_TIME;
    timeField.hidden = !layer?.time;
  }

  // the right side's window: the slider's, all time (null) or one chosen here
  const rightWindow = () => (rightTime.value === SAME_TIME || timeField.hidden ? state.time
    : rightTime.value === "all" ? null : rightTime.value);

  function unclip() {
    for (const node of clipped) node.style.clip = "";
    clipped = [];
  }

  function dropExtra() {
    if (extra) map.removeLayer(extra.grid);
    extra = null;
  }

  // which tiles make each side, made or found again after every change of the layers or the time
  function sides() {
    const a = left.value && drawnLayer(left.value);
    const b = layersBySlug[right.value];
    if (!a || !b) return null;
    const window = rightWindow();
    const own = b.slug !== a.slug || !b.time ? null : true; // the same layer: the right side needs its own tiles
    const shifted = b.time && (window || null) !== (state.time || null);
    if (own || shifted) {
      const key = JSON.stringify([b.slug, window, state.filters[b.slug] || null]);
      if (!extra || extra.key !== key) {
        dropExtra();
        extra = { key, grid: layerAtTime(b, window).addTo(map) };
      }
      extra.grid.setZIndex(state.active.length - state.active.indexOf(b.slug) + 10); // where the layer is drawn
      extra.grid.setOpacity(state.opacity[b.slug]);
      const hidden = b.slug !== a.slug ? drawnLayer(b.slug) : null; // its slider-time tiles stay out of sight
      return { left: a, right: extra.grid, hidden };
    }
    dropExtra();
    return { left: a, right: drawnLayer(b.slug), hidden: null };
  }

  function describeSides() {
    const window = rightWindow();
    const text = (w) => (w ? windowText(w) : t("time_all"));
    const when = (slug, w) => (!layersBySlug[slug]?.time ? "" : config.lang === "en" ? ` (${text(w)})` : `（${text(w)}）`);
    leftTag.textContent = `◀ ${layerTitle(layersBySlug[left.value])}${when(left.value, state.time)}`;
    rightTag.textContent = `${layerTitle(layersBySlug[right.value])}${when(right.value, window)} ▶`;
  }

  function clip() {
    if (!on) return;
    const found = sides();
    unclip();
    divider.hidden = tags.hidden = !found;
    if (!found) return;
    const size = map.getSize();
    const nw = map.containerPointToLayerPoint([0, 0]);
    const se = map.containerPointToLayerPoint(size);
    const x = nw.x + size.x * fraction;
    const set = (grid, rect) => {
      const node = grid?.getContainer?.();
      if (!node) return;
      node.style.clip = rect;
      clipped.push(node);
    };
    set(found.left, `rect(${nw.y}px, ${x}px, ${se.y}px, ${nw.x}px)`);
    set(found.right, `rect(${nw.y}px, ${se.x}px, ${se.y}px, ${x}px)`);
    if (found.hidden && found.hidden !== found.left) set(found.hidden, "rect(0px, 0px, 0px, 0px)");
    divider.style.left = `${fraction * 100}%`;
    handle.setAttribute("aria-valuenow", String(Math.round(fraction * 100)));
    handle.setAttribute("aria-valuetext", t("swipe_position", { percent: Math.round(fraction * 100) }));
    describeSides();
  }

  function moveTo(value) {
    fraction = Math.min(0.98, Math.max(0.02, value));
    clip();
  }

  handle.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    handle.setPointerCapture(e.pointerId);
    const box = map.getContainer().getBoundingClientRect();
    const follow = (m) => moveTo((m.clientX - box.left) / box.width);
    const end = () => {
      handle.removeEventListener("pointermove", follow);
      handle.removeEventListener("pointerup", end);
      handle.removeEventListener("pointercancel", end);
    };
    handle.addEventListener("pointermove", follow);
    handle.addEventListener("pointerup", end);
    handle.addEventListener("pointercancel", end);
  });
  handle.addEventListener("keydown", (e) => {
    const by = { ArrowLeft: -STEP, ArrowRight: STEP }[e.key];
    if (by === undefined) return;
    e.preventDefault();
    moveTo(fraction + by);
  });
  left.addEventListener("change", clip);
  right.addEventListener("change", () => { fillTimes(); clip(); });
  rightTime.addEventListener("change", clip);
  map.on("move zoomend resize", clip);

  function start() {
    on = true;
    panel.hidden = false;
    document.body.classList.add("swipe-on");
    button.setAttribute("aria-pressed", "true");
    fillChoices();
    clip();
  }

  function stop() {
    if (!on) return;
    on = false;
    unclip();
    dropExtra();
    panel.hidden = divider.hidden = tags.hidden = true;
    document.body.classList.remove("swipe-on");
    button.setAttribute("aria-pressed", "false");
  }

  button.addEventListener("click", () => (on ? stop() : start()));
  subscribe(() => {
    if (!on) return;
    fillChoices();
    requestAnimationFrame(clip); // after the map has redrawn what the change touched
  });
  return { start, stop, moveTo, get on() { return on; }, get fraction() { return fraction; },
    sides: () => ({ left: left.value, right: right.value, rightTime: rightWindow() }) };
}
