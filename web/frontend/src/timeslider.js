// The time slider (時間軸): shown while a time-enabled layer is on the map. A window of time (an hour, a day …)
// moves along the extent of those layers' data — dragged, stepped or playing — and their tiles carry it as
// `time=start/end` (the server's one time filter, the same as the features API, WFS and WMS TIME). Until the
// slider is touched, and after 全部時間, the layers show all their times. Layers whose readings change at fixed
// places (a registry layer's sensors, Wi-Fi hotspots: their `animation`) play along on the 2D map (timeplay.js).
import { config, layersBySlug, layerTitle, t } from "./config.js";
import { setTime, state, subscribe } from "./state.js";
import { startTimePlay } from "./timeplay.js";

const HOUR = 3600e3;
const WINDOWS = [["hour", HOUR], ["day", 24 * HOUR], ["week", 7 * 24 * HOUR], ["month", 30 * 24 * HOUR],
  ["year", 365 * 24 * HOUR]];
const MAX_STEPS = 240;
const PLAY_EVERY_MS = 1200;
const locale = config.lang === "en" ? "en" : "zh-TW";

const iso = (ms) => new Date(ms).toISOString().replace(".000Z", "Z");

function format(ms, width) {
  const options = { timeZone: "Asia/Taipei", year: "numeric", month: "2-digit", day: "2-digit" };
  if (width < 24 * HOUR) Object.assign(options, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  return new Intl.DateTimeFormat(locale, options).format(new Date(ms));
}

// a window `start/end` (ISO 8601) as people read it, e.g. for the attribute table's badge
export function windowText(window) {
  const [start, end] = window.split("/").map((text) => Date.parse(text));
  const width = end - start + 1000; // the slider's windows end a second before the next one starts
  return width <= 24 * HOUR && width > HOUR ? format(start, width)
    : t("time_showing", { start: format(start, width), end: format(end, width) });
}

function element(tag, props = {}, children = []) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

// the time a layer's data covers, as the slider walks it: its time attribute's, or that of what plays on it
const extentOf = (layer) => layer?.time?.extent || layer?.animation?.extent;

export function startTimeSlider(container, map = null) {
  const title = element("h2", { id: "time-title", textContent: t("time_title") });
  const layers = element("span", { className: "time-layers" });
  const all = element("button", { type: "button", id: "time-all", textContent: t("time_all") });
  const back = element("button", { type: "button", id: "time-back", className: "icon", textContent: "«",
    title: t("time_back"), ariaLabel: t("time_back") });
  const play = element("button", { type: "button", id: "time-play", className: "icon", textContent: "▶",
    title: t("time_play"), ariaLabel: t("time_play") });
  const forward = element("button", { type: "button", id: "time-forward", className: "icon", textContent: "»",
    title: t("time_forward"), ariaLabel: t("time_forward") });
  const range = element("input", { type: "range", id: "time-range", min: "0", value: "0", step: "1",
    ariaLabel: t("time_position") });
  const width = element("select", { id: "time-window", ariaLabel: t("time_window"), title: t("time_window") },
    WINDOWS.map(([key, ms]) => element("option", { value: String(ms), textContent: t(`window_${key}`) })));
  const shown = element("output", { id: "time-text", ariaLive: "polite" });
  const played = element("div", { id: "time-frames", hidden: true }); // the legend of what plays (timeplay.js)
  const panel = element("section", { id: "time-slider", hidden: true }, [
    element("header", {}, [title, layers, all]),
    element("div", { className: "time-controls" }, [back, play, forward, range, width]), shown, played]);
  panel.setAttribute("aria-labelledby", "time-title");
  container.append(panel);

  let extent = null; // [first, last] ms of the time-enabled layers on the map
  let timer = null;
  let chosenWidth = false;

  const windowMs = () => Number(width.value);
  const steps = () => Math.max(1, Math.ceil((extent[1] - extent[0] + 1) / windowMs()));
  const windowAt = (i) => [extent[0] + i * windowMs(), extent[0] + (i + 1) * windowMs() - 1000];

  function describe() {
    if (!extent) return;
    if (!state.time) {
      shown.value = t("time_showing_all", { start: format(extent[0], windowMs()), end: format(extent[1], windowMs()) });
      return;
    }
    const [start, end] = windowAt(Number(range.value));
    shown.value = windowText(`${iso(start)}/${iso(end)}`);
  }

  let applied = null; // the last window the slider set itself

  function apply() {
    const [start, end] = windowAt(Number(range.value));
    applied = `${iso(start)}/${iso(end)}`;
    setTime(applied);
    describe();
  }

  // a window set elsewhere (a share link opened): the slider shows it, its width and position
  function adopt(window) {
    const [start, end] = window.split("/").map((text) => Date.parse(text));
    const fit = WINDOWS.find(([, ms]) => ms === end - start + 1000);
    if (fit) {
      width.value = String(fit[1]);
      chosenWidth = true;
      range.max = String(steps() - 1);
    }
    range.value = String(Math.max(0, Math.min(steps() - 1, Math.round((start - extent[0]) / windowMs()))));
    applied = window;
  }

  function stop() {
    clearInterval(timer);
    timer = null;
    play.textContent = "▶";
    play.title = play.ariaLabel = t("time_play");
    play.setAttribute("aria-pressed", "false");
  }

  function step(by) {
    const n = steps();
    range.value = String((Number(range.value) + by + n) % n);
    apply();
  }

  function fitWidth() {
    // the shortest window that walks the extent in at most MAX_STEPS steps, unless the person chose one
    if (chosenWidth) return;
    const span = extent[1] - extent[0];
    const fit = WINDOWS.find(([, ms]) => span / ms <= MAX_STEPS) || WINDOWS[WINDOWS.length - 1];
    width.value = String(fit[1]);
  }

  function follow() {
    const on = state.active.map((slug) => layersBySlug[slug]).filter(extentOf);
    panel.hidden = on.length === 0;
    document.body.classList.toggle("time-on", on.length > 0);
    if (!on.length) {
      stop();
      extent = null;
      if (state.time) setTime(null);
      return;
    }
    const starts = on.map((l) => Date.parse(extentOf(l)[0]));
    const ends = on.map((l) => Date.parse(extentOf(l)[1]));
    extent = [Math.min(...starts), Math.max(...ends)];
    layers.textContent = on.map(layerTitle).join("、");
    fitWidth();
    range.max = String(steps() - 1);
    if (Number(range.value) > steps() - 1) range.value = String(steps() - 1);
    if (state.time && state.time !== applied) adopt(state.time);
    describe();
  }

  range.addEventListener("input", () => { stop(); apply(); });
  width.addEventListener("change", () => {
    chosenWidth = true;
    range.max = String(steps() - 1);
    range.value = String(Math.min(Number(range.value), steps() - 1));
    if (state.time) apply();
    else describe();
  });
  back.addEventListener("click", () => { stop(); step(-1); });
  forward.addEventListener("click", () => { stop(); step(1); });
  all.addEventListener("click", () => { stop(); setTime(null); describe(); });
  play.addEventListener("click", () => {
    if (timer) return stop();
    if (!state.time) apply();
    timer = setInterval(() => step(1), PLAY_EVERY_MS);
    play.textContent = "⏸";
    play.title = play.ariaLabel = t("time_pause");
    play.setAttribute("aria-pressed", "true");
  });
  subscribe(follow);
  follow();
  const playing = map ? startTimePlay(map, played) : null;
  // the windows the slider steps through now (its extent at its width), for the swipe's other time
  const windows = () => (extent ? Array.from({ length: steps() }, (_, i) => {
    const [start, end] = windowAt(i);
    return `${iso(start)}/${iso(end)}`;
  }) : []);
  return { stop, step, windows, playing, get window() { return state.time; } };
}
