// The one search box: coordinates, addresses, places, layers and features, listed by kind; the chosen one is
// handed to `show` (zoom, highlight, marker). Bad input gets the server's message, never an empty list.
import { config, t, url } from "./config.js";

const KINDS = ["coordinates", "addresses", "places", "layers", "features"];

function titleOf(hit) {
  return config.lang === "en" && hit.layer_title_en ? hit.layer_title_en : hit.layer_title_zh;
}

// what a result says under its name
export function describe(hit) {
  if (hit.kind === "coordinate") return `TWD97 ${hit.x.toFixed(1)}, ${hit.y.toFixed(1)} · ${t(`read_as_${hit.read_as}`)}`;
  if (hit.kind === "address") return `${t(`match_${hit.level}`)} · ${t("match_score", { score: hit.score.toFixed(2) })}`;
  if (hit.kind === "layer") return t(`search_layer_by_${hit.matched}`);
  return hit.count > 1 ? `${titleOf(hit)} · ${t("search_parts", { n: hit.count })}` : titleOf(hit);
}

function nameOf(hit) {
  if (hit.kind === "coordinate") return `${hit.lon.toFixed(6)}, ${hit.lat.toFixed(6)}`;
  if (hit.kind === "layer") return titleOf(hit);
  return hit.value;
}

export function createSearch(form, list, show) {
  const input = form.querySelector("input");
  let results = [];
  let asked = 0; // an answer to an earlier question that arrives late is dropped

  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
  }

  function choose(i) {
    close();
    show(results[i]);
  }

  function line(className, text, role) {
    const li = document.createElement("li");
    li.className = className;
    li.textContent = text;
    if (role) li.setAttribute("role", role);
    list.append(li);
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const q = input.value.trim();
    if (!q) return;
    const question = ++asked;
    let answer = null;
    let failed = null;
    try {
      const response = await fetch(`${url("search")}?q=${encodeURIComponent(q)}`, { credentials: "same-origin" });
      answer = await response.json();
      if (question !== asked) return;
      list.replaceChildren();
      results = [];
      if (!response.ok) {
        failed = answer.detail || t("search_failed");
        answer = null;
      }
    } catch {
      if (question !== asked) return;
      list.replaceChildren();
      results = [];
      failed = t("search_failed");
    }
    if (failed) line("search-note error", failed, "alert");
    if (answer) {
      for (const kind of KINDS) {
        const hits = answer.groups?.[kind] || [];
        if (!hits.length) continue;
        line("search-kind", t(`search_kind_${kind}`));
        for (const hit of hits) {
          const i = results.push(hit) - 1;
          const li = document.createElement("li");
          li.dataset.kind = hit.kind;
          const button = document.createElement("button");
          button.type = "button";
          button.innerHTML = "<strong></strong> <small></small>";
          button.querySelector("strong").textContent = nameOf(hit);
          button.querySelector("small").textContent = describe(hit);
          button.addEventListener("click", () => choose(i));
          li.append(button);
          list.append(li);
        }
      }
      if (answer.note) line("search-note", answer.note, "status");
      else if (!results.length) line("search-note", t("search_none", { q }), "status");
    }
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    const first = results[0];
    const sure = first && (results.length === 1 || first.kind === "coordinate"
      || (first.kind === "address" && first.level === "exact") || (first.kind !== "layer" && first.value === q));
    if (sure) choose(0);
    else list.querySelector("button")?.focus();
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !list.hidden) {
      close();
      input.focus();
    }
  });
}
