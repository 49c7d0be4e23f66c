// The widget's DOM, one builder per part (js/view/): the local-backend banner, the kernel's
// notice and the relay notice, the toolbar (controls, microphone, meters, sound, budget), the
// status line (activity, latency, cost), the error box, the transcript, settings and downloads,
// and the event inspector. It reads traits from the model and everything else from the session.

import type { AnyModel } from "@anywidget/types";
import type { WidgetModel } from "./generated/protocol";
import type { SessionHandle } from "./session";
import { h, Scope } from "./view/dom";
import { buildDownloads } from "./view/downloads";
import { buildInspector } from "./view/inspector";
import { buildErrorBox, buildLocalBanner, buildNotice, buildRouteNotice } from "./view/notices";
import { buildSettings } from "./view/settings";
import { buildStatusLine } from "./view/status";
import { buildToolbar } from "./view/toolbar";
import { buildTranscript } from "./view/transcript";

/** Redraw these parts at most once a frame when the session has new events. */
function redrawOnEvents(scope: Scope, renders: (() => void)[]): void {
  let frame = 0;
  const redraw = () => {
    frame = 0;
    for (const render of renders) render();
  };
  scope.onSession((change) => {
    if (change === "events" && !frame) frame = requestAnimationFrame(redraw);
  });
  scope.onDispose(() => {
    if (frame) cancelAnimationFrame(frame);
  });
  redraw();
}

/** Build the view in `el`; returns the cleanup that removes it and every listener. */
export function mountUi(
  el: HTMLElement,
  model: AnyModel<WidgetModel>,
  session: SessionHandle,
): () => void {
  const scope = new Scope(model, session);
  const transcript = buildTranscript(scope);
  const inspector = buildInspector(scope);
  const root = h(
    "div",
    { class: "rtnb" },
    buildLocalBanner(scope),
    buildNotice(scope),
    buildRouteNotice(scope),
    buildToolbar(scope),
    buildStatusLine(scope),
    buildErrorBox(scope),
    transcript.el,
    h("div", { class: "rtnb-bar rtnb-panels" }, buildSettings(scope), buildDownloads(scope)),
    inspector.el,
  );
  root.dataset.lmSuppressShortcuts = "true"; // keep JupyterLab's command-mode keys out of the widget
  scope.watch(["status"], () => {
    root.dataset.status = model.get("status") ?? "idle";
  });
  redrawOnEvents(scope, [transcript.render, inspector.render]);
  el.append(root);
  scope.onDispose(() => root.remove());
  return () => scope.dispose();
}
