// The event inspector: a collapsible, filterable list of the session's events (deltas grouped),
// in local time with its zone named; rows are reachable by keyboard (Tab, arrows, Enter), the
// selected row's JSON can be copied, and the list cleared.

import type { EventEntry } from "../generated/protocol";
import type { Row } from "../inspector";
import { inspectorRows, matcher, rowJson } from "../inspector";
import type { Scope } from "./dom";
import { button, h, setText } from "./dom";

/** The browser's time zone, e.g. "Europe/Paris" ("local" when it cannot say). */
export function timeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "local";
  } catch {
    return "local";
  }
}

/** Local time of day with milliseconds, e.g. "14:03:07.123". */
export function clock(t: number): string {
  const d = new Date(t);
  const two = (n: number) => String(n).padStart(2, "0");
  const ms = String(d.getMilliseconds()).padStart(3, "0");
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${ms}`;
}

function rowLine(row: Row, i: number, selected: boolean): HTMLElement {
  const count = row.count > 1 ? ` ×${row.count}` : "";
  const line = h("div", {
    class: `rtnb-row rtnb-${row.dir}${selected ? " rtnb-selected" : ""}`,
    text: `${clock(row.t)} ${row.dir === "server" ? "↓" : "↑"} ${row.type}${count}`,
  });
  line.dataset.row = String(i);
  line.dataset.type = row.type;
  line.tabIndex = 0;
  line.setAttribute("role", "button");
  line.setAttribute("aria-pressed", String(selected));
  line.setAttribute(
    "aria-label",
    `${row.dir === "server" ? "received" : "sent"} ${row.type}${count}`,
  );
  return line;
}

async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

export function buildInspector(scope: Scope): { el: HTMLElement; render: () => void } {
  const { session } = scope;
  const filter = h("input", { class: "rtnb-filter", testid: "filter" });
  filter.placeholder = "filter by type";
  filter.setAttribute("aria-label", "Filter events by type");
  const copy = button("Copy JSON", "copy-json", "Copy the selected event's JSON");
  const clear = button("Clear", "clear-events", "Clear the events shown here");
  const zone = h("span", { class: "rtnb-zone", testid: "zone", text: `times in ${timeZone()}` });
  const tools = h("div", { class: "rtnb-inspector-tools" }, filter, copy, clear, zone);
  const rowsBox = h("div", { class: "rtnb-rows", testid: "rows" });
  rowsBox.setAttribute("role", "group");
  rowsBox.setAttribute("aria-label", "Events");
  const json = h("pre", { class: "rtnb-json", testid: "json" });
  json.tabIndex = 0;
  const summary = h("summary", { text: "Events" });
  const el = h(
    "details",
    { class: "rtnb-inspector", testid: "inspector" },
    summary,
    tools,
    rowsBox,
    json,
  );
  let selected: EventEntry | null = null;
  let rows: Row[] = [];
  const render = () => {
    const all = session.log.length;
    if (filter.value.trim()) {
      const shown = session.log.filter(matcher(filter.value)).length;
      setText(summary, `Events (${shown} of ${all})`);
    } else {
      setText(summary, `Events (${all})`);
    }
    // Closed, only the count shows: no rows are folded (this runs every frame of a busy call)
    if (!el.open) return;
    rows = inspectorRows(session.log, filter.value);
    const focused = document.activeElement;
    const focusIndex =
      focused instanceof HTMLElement && rowsBox.contains(focused) ? focused.dataset.row : undefined;
    const stick = rowsBox.scrollTop + rowsBox.clientHeight >= rowsBox.scrollHeight - 8;
    rowsBox.replaceChildren(...rows.map((row, i) => rowLine(row, i, row.entries[0] === selected)));
    if (focusIndex !== undefined) {
      rowsBox.querySelector<HTMLElement>(`[data-row="${focusIndex}"]`)?.focus();
    }
    const chosen = rows.find((r) => r.entries[0] === selected);
    json.textContent = chosen ? rowJson(chosen) : "";
    json.hidden = !chosen;
    copy.disabled = !chosen;
    if (stick) rowsBox.scrollTop = rowsBox.scrollHeight;
  };
  const choose = (line: HTMLElement | null) => {
    const row = line ? rows[Number(line.dataset.row)] : undefined;
    if (!row) return;
    selected = row.entries[0] === selected ? null : (row.entries[0] ?? null);
    render();
  };
  scope.listen(rowsBox, "click", (e) => {
    choose((e.target as HTMLElement).closest<HTMLElement>("[data-row]"));
  });
  scope.listen(rowsBox, "keydown", (e) => {
    const key = e as KeyboardEvent;
    const line = (key.target as HTMLElement).closest<HTMLElement>("[data-row]");
    if (!line) return;
    if (key.key === "Enter" || key.key === " ") {
      key.preventDefault();
      choose(line);
    } else if (key.key === "ArrowDown" || key.key === "ArrowUp") {
      key.preventDefault();
      const next = key.key === "ArrowDown" ? line.nextElementSibling : line.previousElementSibling;
      (next as HTMLElement | null)?.focus();
    }
  });
  scope.listen(copy, "click", () => {
    const text = json.textContent ?? "";
    if (!text) return;
    void copyText(text).then((ok) => {
      if (!scope.alive) return;
      copy.textContent = ok ? "Copied" : "Copy failed";
      setTimeout(() => {
        copy.textContent = "Copy JSON";
      }, 1500);
    });
  });
  scope.listen(clear, "click", () => {
    selected = null;
    session.clearLog();
  });
  scope.listen(filter, "input", render);
  scope.listen(el, "toggle", render);
  return { el, render };
}
