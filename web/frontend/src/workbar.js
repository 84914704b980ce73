// The tool bar on the map (環域分析, 圖層套疊, 道路拓寬, 圖檔上傳, 地圖標記, 分享, 輸出) and the one panel the
// open tool draws into: one tool at a time, its button pressed, Esc closes it.
import { el } from "./panel.js";
import { t } from "./config.js";

export function createWorkbar(bar, panel, tools) {
  const title = panel.querySelector("h2");
  const body = panel.querySelector(".tool-body");
  let open = null;

  function close() {
    if (!open) return;
    open.tool.close?.();
    open.button.setAttribute("aria-expanded", "false");
    panel.hidden = true;
    const button = open.button;
    open = null;
    button.focus();
  }

  function show(entry) {
    const wasOpen = open && open.tool === entry.tool;
    close();
    if (wasOpen) return;
    open = entry;
    title.textContent = t(entry.tool.title);
    body.replaceChildren(entry.tool.render());
    panel.hidden = false;
    entry.button.setAttribute("aria-expanded", "true");
    body.querySelector("input, select, button, textarea")?.focus();
  }

  for (const tool of tools) {
    const button = el("button", { type: "button", "data-tool": tool.id, "aria-controls": panel.id,
      "aria-expanded": "false" }, el("span", { "aria-hidden": "true", class: "glyph" }, tool.glyph), t(tool.title));
    const entry = { tool, button };
    button.addEventListener("click", () => show(entry));
    bar.append(button);
  }
  panel.querySelector("[data-close-tool]").addEventListener("click", close);
  panel.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !document.body.classList.contains("drawing")) close();
  });
  return { close, get open() { return open?.tool.id ?? null; } };
}

// Fit the map to a result without putting it under the open tool's panel
export function fitBesidePanel(map, bounds, maxZoom = 18) {
  const panel = document.getElementById("tool-panel");
  const mapBox = map.getContainer().getBoundingClientRect();
  const covered = panel.hidden ? 0 : Math.max(0, panel.getBoundingClientRect().right - mapBox.left);
  // on a phone the panel covers the map's width: fit to the whole map instead
  const left = covered < mapBox.width * 0.6 ? covered + 20 : 20;
  map.fitBounds(bounds, { paddingTopLeft: [left, 20], paddingBottomRight: [20, 20], maxZoom });
}
