// What the widget tells the user outside the toolbar: the local-backend banner, the notice (a
// deprecated model) and the error box.

import type { Scope } from "./dom";
import { h } from "./dom";

export const LOCAL_BANNER =
  "Local backend: no OpenAI key configured — answers come from rt_notebook's built-in simulator";

export function buildLocalBanner(scope: Scope): HTMLElement {
  const banner = h("div", { class: "rtnb-banner", testid: "banner", text: LOCAL_BANNER });
  scope.watch(["backend"], () => {
    banner.hidden = scope.model.get("backend") !== "local";
  });
  return banner;
}

/** The `notice` trait: a lasting notice from the kernel, e.g. a deprecated model's shutdown. */
export function buildNotice(scope: Scope): HTMLElement {
  const notice = h("div", { class: "rtnb-banner rtnb-notice", testid: "notice" });
  scope.watch(["notice"], () => {
    const text = scope.model.get("notice") ?? "";
    notice.hidden = !text;
    notice.textContent = text;
  });
  return notice;
}

export const RELAY_NOTICE =
  "The kernel is carrying the call's setup: the rt_notebook server extension is not enabled in " +
  "this Jupyter server (the key then comes from the kernel's environment). To use it, run " +
  "`pip install rt_notebook` in the environment that runs Jupyter, then restart Jupyter.";

/** When the kernel relay stands in for a missing server extension, say so and how to fix it. */
export function buildRouteNotice(scope: Scope): HTMLElement {
  const notice = h("div", { class: "rtnb-banner rtnb-route", testid: "route", text: RELAY_NOTICE });
  notice.setAttribute("role", "note");
  scope.watch(["route"], () => {
    notice.hidden = scope.model.get("route") !== "kernel-fallback";
  });
  return notice;
}

/** The `error` trait: what went wrong and, when known, the fix. */
export function buildErrorBox(scope: Scope): HTMLElement {
  const message = h("div", { class: "rtnb-error-message" });
  const fix = h("div", { class: "rtnb-error-fix" });
  const box = h("div", { class: "rtnb-error", testid: "error" }, message, fix);
  box.setAttribute("role", "alert");
  scope.watch(["error"], () => {
    const error = scope.model.get("error");
    box.hidden = !error;
    box.dataset.code = error?.code ?? "";
    message.textContent = error?.message ?? "";
    fix.textContent = error?.fix ? `Fix: ${error.fix}` : "";
    fix.hidden = !error?.fix;
  });
  return box;
}
