// The microphone and model level meters: animated while a call is live and the view is shown.

import type { Scope } from "./dom";
import { h, isLive } from "./dom";

/** An RMS level as a meter fraction: -60 dBFS → 0, 0 dBFS → 1. */
export function meterFraction(rms: number): number {
  if (!(rms > 0)) return 0;
  return Math.min(1, Math.max(0, (20 * Math.log10(rms) + 60) / 60));
}

function meter(testid: string, title: string): HTMLElement {
  const el = h(
    "span",
    { class: "rtnb-meter", testid, title },
    h("span", { class: "rtnb-meter-bar" }),
  );
  el.dataset.level = "0";
  el.setAttribute("role", "meter");
  el.setAttribute("aria-label", title);
  el.setAttribute("aria-valuemin", "0");
  el.setAttribute("aria-valuemax", "100");
  el.setAttribute("aria-valuenow", "0");
  return el;
}

/** Show a level; an unchanged one writes nothing (a write each frame restyles the page). */
function show(el: HTMLElement, rms: number): void {
  const level = rms.toFixed(4);
  if (el.dataset.level === level) return;
  el.dataset.level = level;
  const percent = Math.round(meterFraction(rms) * 100);
  const bar = el.firstElementChild as HTMLElement;
  bar.style.width = `${(meterFraction(rms) * 100).toFixed(1)}%`;
  if (el.getAttribute("aria-valuenow") !== String(percent)) {
    el.setAttribute("aria-valuenow", String(percent));
    el.setAttribute("aria-valuetext", `${percent}%`);
  }
}

/** The labelled meters, for the toolbar. */
export function buildMeters(scope: Scope): HTMLElement[] {
  const input = meter("meter-in", "Microphone level");
  const output = meter("meter-out", "Model audio level");
  let frame = 0;
  const tick = () => {
    frame = 0;
    const live = isLive(scope.model.get("status"));
    const levels = live ? scope.session.levels() : { input: 0, output: 0 };
    show(input, levels.input);
    show(output, levels.output);
    if (live && input.isConnected) frame = requestAnimationFrame(tick);
  };
  const start = () => {
    if (!frame && scope.alive) frame = requestAnimationFrame(tick);
  };
  scope.watch(["status"], start);
  // JupyterLab may detach an off-screen cell; restart the meters when events show it is back.
  scope.onSession(start);
  scope.onDispose(() => {
    if (frame) cancelAnimationFrame(frame);
  });
  return [
    h("span", { class: "rtnb-meter-label", text: "mic" }),
    input,
    h("span", { class: "rtnb-meter-label", text: "model" }),
    output,
  ];
}
