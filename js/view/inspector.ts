// The event inspector: a collapsible, filterable list of the session's events (deltas grouped),
// with the JSON of the selected row.

import type { EventEntry } from "../generated/protocol";
import type { Row } from "../inspector";
import { inspectorRows, rowJson } from "../inspector";
import type { Scope } from "./dom";
import { h } from "./dom";

function clock(t: number): string {
  return new Date(t).toISOString().slice(11, 23);
}

function rowLine(row: Row, i: number, selected: boolean): HTMLElement {
  const count = row.count > 1 ? ` ×${row.count}` : "";
  const line = h("div", {
    class: `rtnb-row rtnb-${row.dir}${selected ? " rtnb-selected" : ""}`,
    text: `${clock(row.t)} ${row.dir === "server" ? "↓" : "↑"} ${row.type}${count}`,
  });
  line.dataset.row = String(i);
  line.dataset.type = row.type;
  return line;
}

export function buildInspector(scope: Scope): { el: HTMLElement; render: () => void } {
  const { session } = scope;
  const filter = h("input", { class: "rtnb-filter" });
  filter.placeholder = "filter by type";
  const rowsBox = h("div", { class: "rtnb-rows" });
  const json = h("pre", { class: "rtnb-json" });
  const summary = h("summary", { text: "Events" });
  const el = h(
    "details",
    { class: "rtnb-inspector", testid: "inspector" },
    summary,
    filter,
    rowsBox,
    json,
  );
  let selected: EventEntry | null = null;
  let rows: Row[] = [];
  const render = () => {
    summary.textContent = `Events (${session.log.length})`;
    if (!el.open) return;
    const stick = rowsBox.scrollTop + rowsBox.clientHeight >= rowsBox.scrollHeight - 8;
    rows = inspectorRows(session.log, filter.value);
    rowsBox.replaceChildren(...rows.map((row, i) => rowLine(row, i, row.entries[0] === selected)));
    const chosen = rows.find((r) => r.entries[0] === selected);
    json.textContent = chosen ? rowJson(chosen) : "";
    json.hidden = !chosen;
    if (stick) rowsBox.scrollTop = rowsBox.scrollHeight;
  };
  scope.listen(rowsBox, "click", (e) => {
    const line = (e.target as HTMLElement).closest<HTMLElement>("[data-row]");
    const row = line ? rows[Number(line.dataset.row)] : undefined;
    if (!row) return;
    selected = row.entries[0] === selected ? null : (row.entries[0] ?? null);
    render();
  });
  scope.listen(filter, "input", render);
  scope.listen(el, "toggle", render);
  return { el, render };
}
