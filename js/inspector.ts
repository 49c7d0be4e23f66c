// The event inspector's rows, as a pure function of the event log: filtered by a type substring,
// with runs of `*.delta` events of the same type and item folded into one counted row.

import type { EventEntry } from "./generated/protocol";

export interface Row {
  /** Index in the log of the row's first entry (stable while the log only grows). */
  start: number;
  dir: EventEntry["dir"];
  /** Time of the first entry. */
  t: number;
  type: string;
  count: number;
  entries: EventEntry[];
}

function foldKey(entry: EventEntry): string | null {
  const { type, item_id: itemId } = entry.event;
  return type.endsWith(".delta") ? `${entry.dir} ${type} ${String(itemId ?? "")}` : null;
}

/** Whether an entry passes the filter (a case-insensitive substring of its type). */
export function matcher(filter: string): (entry: EventEntry) => boolean {
  const needle = filter.trim().toLowerCase();
  return (entry) => !needle || entry.event.type.toLowerCase().includes(needle);
}

export function inspectorRows(log: readonly EventEntry[], filter = ""): Row[] {
  const matches = matcher(filter);
  const rows: Row[] = [];
  let lastKey: string | null = null;
  log.forEach((entry, index) => {
    if (!matches(entry)) return;
    const key = foldKey(entry);
    const last = rows[rows.length - 1];
    if (key !== null && key === lastKey && last) {
      last.count += 1;
      last.entries.push(entry);
      return;
    }
    lastKey = key;
    rows.push({
      start: index,
      dir: entry.dir,
      t: entry.t,
      type: entry.event.type,
      count: 1,
      entries: [entry],
    });
  });
  return rows;
}

/** What a clicked row shows: the event, or every folded event. */
export function rowJson(row: Row): string {
  const events = row.entries.map((e) => e.event);
  return JSON.stringify(events.length === 1 ? events[0] : events, null, 2);
}
