// Step-by-step forms: one <section data-step> shown at a time, a list of the steps to jump between, and
// 上一步 / 下一步 buttons; focus moves to the step's heading so keyboard and screen-reader users follow along.
export function createWizard(root) {
  const steps = [...root.querySelectorAll("[data-step]")];
  const tabs = [...root.querySelectorAll("[data-goto]")];
  let current = 0;
  function show(index, focus = true) {
    current = Math.max(0, Math.min(index, steps.length - 1));
    steps.forEach((s, i) => { s.hidden = i !== current; });
    tabs.forEach((b) => b.setAttribute("aria-current", String(Number(b.dataset.goto) === current ? "step" : false)));
    const heading = steps[current].querySelector("h2");
    if (focus && heading) {
      heading.tabIndex = -1;
      heading.focus();
    }
  }
  tabs.forEach((b) => b.addEventListener("click", () => show(Number(b.dataset.goto))));
  root.querySelectorAll("[data-next]").forEach((b) => b.addEventListener("click", () => show(current + 1)));
  root.querySelectorAll("[data-prev]").forEach((b) => b.addEventListener("click", () => show(current - 1)));
  show(0, false);
  return { show, get current() { return current; } };
}
