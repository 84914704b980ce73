// A play control for the decision pages' maps (逐時回放): steps through a list of moments — playing, paused, one
// step back or forward, or dragged — and calls `onStep(i)` for each; the moment shown is written beside it.
// The viewer's own time slider (timeslider.js) moves tile windows; this one recolours markers the page drew.
import L from "./leaflet-global.js";
import { t } from "./config.js";
import { el } from "./panel.js";

const PLAY_EVERY_MS = 900;

// the player's box sits on the map, so that a phone shows it with the markers it moves
function onMap(map, box) {
  const control = L.control({ position: "topleft" });
  control.onAdd = () => {
    L.DomEvent.disableClickPropagation(box);
    return box;
  };
  return control.addTo(map);
}

// steps: the names of a step back and forward (an hour by default)
export function playback(container, { times, label, onStep, steps = ["playback_back", "playback_forward"] }) {
  let at = 0;
  let timer = null;
  const range = el("input", { type: "range", id: "playback-range", min: "0", max: String(times.length - 1), value: "0",
    step: "1", "aria-label": t("time_position") });
  const shown = el("output", { id: "playback-time", "aria-live": "polite" });
  const button = (id, text, title, onclick) => el("button", { type: "button", id, class: "icon", title,
    "aria-label": title, onclick }, text);
  const play = button("playback-play", "▶", t("time_play"), () => (timer ? pause() : start()));
  const show = (i) => {
    at = (i + times.length) % times.length;
    range.value = String(at);
    shown.textContent = label(times[at]);
    onStep(at);
  };
  function pause() {
    clearInterval(timer);
    timer = null;
    play.textContent = "▶";
    play.title = play.ariaLabel = t("time_play");
  }
  function start() {
    timer = setInterval(() => show(at + 1), PLAY_EVERY_MS);
    play.textContent = "❚❚";
    play.title = play.ariaLabel = t("time_pause");
  }
  range.addEventListener("input", () => { pause(); show(Number(range.value)); });
  container.replaceChildren(el("div", { class: "playback-controls" },
    button("playback-back", "«", t(steps[0]), () => { pause(); show(at - 1); }), play,
    button("playback-forward", "»", t(steps[1]), () => { pause(); show(at + 1); }), range), shown);
  show(0);
  return { pause, show, get at() { return at; } };
}

// a page's 回放 button: the first press loads the page's frames (`start` answers playback's options) and shows the
// player on the map; the next press, or stop(), ends it and `restore` redraws the page's usual colours
export function playbackButton(map, button, box, { startKey, start, restore }) {
  let player = null;
  let control = null;
  function stop() {
    const playing = player !== null;
    player?.pause();
    player = null;
    box.hidden = true;
    button.textContent = t(startKey);
    button.setAttribute("aria-pressed", "false");
    return playing;
  }
  button.addEventListener("click", async () => {
    if (stop()) {
      restore();
      return;
    }
    button.disabled = true;
    control ??= onMap(map, box);
    box.hidden = false;
    box.textContent = t("loading");
    try {
      player = playback(box, await start());
      button.textContent = t("playback_stop");
      button.setAttribute("aria-pressed", "true");
      if (window.matchMedia("(max-width: 760px)").matches) map.getContainer().scrollIntoView({ block: "start" });  // a phone
    } catch (err) {
      box.textContent = err.message;
    } finally {
      button.disabled = false;
    }
  });
  return { stop };
}
