// The status line under the toolbar: what the session is doing (listening, user speaking,
// thinking, assistant speaking, tool running; "talking" while push-to-talk is held), the last
// reply's latency and the running cost the kernel computes.

import type { CostFigures } from "../generated/protocol";
import type { Scope } from "./dom";
import { h, isLive, setText } from "./dom";

/** "1,234 tokens · $0.0123" (with "≈" when part of it is estimated). */
export function costText(cost: CostFigures | null | undefined): string {
  if (!cost) return "";
  const tokens = (cost.input_tokens + cost.output_tokens).toLocaleString("en-US");
  const usd = `${cost.estimated ? "≈" : ""}$${cost.usd.toFixed(4)}`;
  return `${tokens} tokens · ${usd}`;
}

export function buildStatusLine(scope: Scope): HTMLElement {
  const { model, session } = scope;
  const activity = h("span", { class: "rtnb-activity", testid: "activity" });
  activity.setAttribute("role", "status");
  const latency = h("span", { class: "rtnb-figure", testid: "latency" });
  latency.title = "End of your speech → first audio of the last reply";
  const cost = h("span", { class: "rtnb-figure", testid: "cost" });
  cost.title = "This session's tokens and cost so far (s.cost())";
  const renderActivity = () => {
    const live = model.get("status") === "connected";
    const what = session.talking ? "talking" : session.activity.activity;
    activity.hidden = !live;
    setText(activity, what);
    if (activity.dataset.activity !== what) activity.dataset.activity = what;
  };
  const renderLatency = () => {
    const turns = session.transcript.turns;
    let last: (typeof turns)[number] | undefined;
    for (let i = turns.length - 1; i >= 0 && !last; i--) {
      if (turns[i]?.latencyMs !== undefined) last = turns[i];
    }
    latency.hidden = !last;
    setText(
      latency,
      last?.latencyMs !== undefined ? `reply in ${Math.round(last.latencyMs)} ms` : "",
    );
  };
  scope.watch(["status"], renderActivity);
  scope.watch(["cost"], () => {
    const text = costText(model.get("cost"));
    cost.hidden = !text;
    cost.textContent = text;
  });
  scope.onSession((change) => {
    if (change === "ptt" || change === "events") renderActivity();
    if (change === "events") renderLatency();
  });
  renderLatency();
  const line = h("div", { class: "rtnb-status-line" }, activity, latency, cost);
  const renderLine = () => {
    line.hidden = !isLive(model.get("status")) && !model.get("cost");
  };
  scope.watch(["status", "cost"], renderLine);
  return line;
}
