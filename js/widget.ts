// The anywidget entry: `initialize` owns the session (one per model, shared by every view),
// `render` only builds DOM for it. Both return cleanups.

import type { AnyModel, Initialize, Render } from "@anywidget/types";
import type { WidgetModel } from "./generated/protocol";
import { Session } from "./session";
import { mountUi } from "./ui";
import "./widget.css";

const sessions = new Set<Session>();

/**
 * Whether two model handles are views of one model. anywidget hands `initialize` and each
 * `render` a distinct proxy object, but all read the same attributes: an object-valued trait is
 * the very same object for one model, and a different one for any other model.
 */
export function sameModel(a: AnyModel<WidgetModel>, b: AnyModel<WidgetModel>): boolean {
  if (a === b) return true;
  const keys = ["session_config", "audio_constraints"] as const;
  return keys.some((key) => {
    const value = a.get(key);
    return typeof value === "object" && value !== null && value === b.get(key);
  });
}

const initialize: Initialize<WidgetModel> = ({ model }) => {
  const session = new Session(model);
  sessions.add(session);
  return () => {
    sessions.delete(session);
    session.dispose();
  };
};

const render: Render<WidgetModel> = ({ model, el }) => {
  const session = [...sessions].find((s) => sameModel(s.model, model));
  if (!session) {
    const note = document.createElement("div");
    note.className = "rtnb-error";
    note.textContent = "rt_notebook: this widget's session was not initialized; re-run the cell";
    el.append(note);
    return () => note.remove();
  }
  session.viewAdded();
  const unmount = mountUi(el, model, session);
  return () => {
    unmount();
    session.viewRemoved();
  };
};

export default { initialize, render };
