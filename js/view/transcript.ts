// The live transcript: one row per turn, updated in place, kept scrolled to the end.

import type { Scope } from "./dom";
import { h } from "./dom";

export function buildTranscript(scope: Scope): { el: HTMLElement; render: () => void } {
  const el = h("div", { class: "rtnb-transcript", testid: "transcript" });
  const rows = new Map<string, { row: HTMLElement; text: HTMLElement }>();
  const render = () => {
    const stick = el.scrollTop + el.clientHeight >= el.scrollHeight - 8;
    const turns = scope.session.transcript.turns.filter((t) => t.text !== "");
    const seen = new Set<string>();
    turns.forEach((turn, i) => {
      seen.add(turn.id);
      let entry = rows.get(turn.id);
      if (!entry) {
        const text = h("span", { class: "rtnb-turn-text" });
        const row = h(
          "div",
          {},
          h("span", { class: "rtnb-turn-role", text: turn.role === "user" ? "You" : "Model" }),
          text,
        );
        row.dataset.itemId = turn.id;
        entry = { row, text };
        rows.set(turn.id, entry);
      }
      entry.row.className = `rtnb-turn rtnb-${turn.role}${turn.final ? "" : " rtnb-partial"}`;
      entry.row.dataset.role = turn.role;
      entry.row.dataset.final = String(turn.final);
      if (entry.text.textContent !== turn.text) entry.text.textContent = turn.text;
      if (el.children[i] !== entry.row) el.insertBefore(entry.row, el.children[i] ?? null);
    });
    for (const [id, entry] of rows) {
      if (!seen.has(id)) {
        entry.row.remove();
        rows.delete(id);
      }
    }
    if (stick) el.scrollTop = el.scrollHeight;
  };
  return { el, render };
}
