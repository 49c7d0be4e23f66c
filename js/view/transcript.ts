// The live transcript: one row per turn (messages, tool calls, images), updated in place, kept
// scrolled to the end, announced to screen readers as a log.

import type { Transcript, Turn } from "../transcript";
import { EMPTY_TRANSCRIPT, visible } from "../transcript";
import type { Scope } from "./dom";
import { h, setText } from "./dom";

const TIME_OF_DAY = new Intl.DateTimeFormat([], {
  hour: "numeric",
  minute: "2-digit",
  second: "2-digit",
  hour12: false,
});

/** Local time of day, e.g. "14:03:07" (one formatter: building one per call is slow). */
export function localTime(t: number): string {
  return TIME_OF_DAY.format(t);
}

function ms(value: number): string {
  return value < 1000 ? `${Math.round(value)} ms` : `${(value / 1000).toFixed(1)} s`;
}

const MAX_SHOWN = 300;

/** What a tool row says: `name(args) → result (12 ms)`. */
export function toolLine(turn: Turn): string {
  const tool = turn.tool;
  if (!tool) return "";
  const args =
    tool.arguments.length > MAX_SHOWN ? `${tool.arguments.slice(0, MAX_SHOWN)}…` : tool.arguments;
  const result =
    tool.error !== undefined
      ? `error: ${tool.error}`
      : tool.output !== undefined
        ? tool.output.length > MAX_SHOWN
          ? `${tool.output.slice(0, MAX_SHOWN)}…`
          : tool.output
        : "running…";
  const took = tool.durationMs !== undefined ? ` (${ms(tool.durationMs)})` : "";
  return `${tool.name}(${args}) → ${result}${took}`;
}

function roleName(turn: Turn): string {
  return turn.role === "user" ? "You" : turn.role === "tool" ? "Tool" : "Model";
}

interface RowParts {
  row: HTMLElement;
  time: HTMLTimeElement;
  text: HTMLElement;
  note: HTMLElement;
  images: HTMLElement;
  shownImages: number;
  /** The turn shown (turns are immutable: another object is a change). */
  turn?: Turn;
}

function newRow(turn: Turn): RowParts {
  const time = h("time", { class: "rtnb-turn-time" });
  const text = h("span", { class: "rtnb-turn-text" });
  const note = h("span", { class: "rtnb-turn-note" });
  const images = h("span", { class: "rtnb-turn-images" });
  const row = h(
    "div",
    {},
    time,
    h("span", { class: "rtnb-turn-role", text: roleName(turn) }),
    text,
    images,
    note,
  );
  row.dataset.itemId = turn.id;
  return { row, time, text, note, images, shownImages: 0 };
}

/** Show `shown`; streamed text grows at its end, so only the new part is appended. */
function showText(el: HTMLElement, shown: string): void {
  const node = el.firstChild;
  if (node instanceof Text && el.childNodes.length === 1) {
    const current = node.data;
    if (current === shown) return;
    if (current && shown.startsWith(current)) {
      node.appendData(shown.slice(current.length));
      return;
    }
  }
  el.textContent = shown;
}

function update(parts: RowParts, turn: Turn): void {
  const { row, time, text, note, images } = parts;
  const tool = turn.tool;
  const state = tool ? (tool.error !== undefined ? " rtnb-tool-error" : "") : "";
  row.className = `rtnb-turn rtnb-${turn.role}${turn.final ? "" : " rtnb-partial"}${turn.interrupted ? " rtnb-interrupted" : ""}${state}`;
  row.dataset.role = turn.role;
  row.dataset.final = String(turn.final);
  row.dataset.interrupted = String(Boolean(turn.interrupted));
  if (parts.turn?.t !== turn.t) {
    time.textContent = localTime(turn.t);
    time.dateTime = new Date(turn.t).toISOString();
  }
  showText(text, tool ? toolLine(turn) : turn.text);
  const notes: string[] = [];
  if (turn.interrupted) notes.push("interrupted");
  if (turn.latencyMs !== undefined) notes.push(`replied in ${ms(turn.latencyMs)}`);
  const noteText = notes.join(" · ");
  setText(note, noteText);
  note.hidden = !noteText;
  const urls = turn.images ?? [];
  if (parts.shownImages !== urls.length) {
    images.replaceChildren(
      ...urls.map((url, i) => {
        const img = h("img", { class: "rtnb-thumb" });
        img.src = url;
        img.alt = `image ${i + 1} sent to the model`;
        return img;
      }),
    );
    parts.shownImages = urls.length;
  }
  images.hidden = urls.length === 0;
  parts.turn = turn;
}

export function buildTranscript(scope: Scope): { el: HTMLElement; render: () => void } {
  const el = h("div", { class: "rtnb-transcript", testid: "transcript" });
  el.setAttribute("role", "log");
  el.setAttribute("aria-live", "polite");
  el.setAttribute("aria-label", "Transcript");
  el.tabIndex = 0; // scrollable: reachable by keyboard
  const rows = new Map<string, RowParts>();
  let shown: Transcript = EMPTY_TRANSCRIPT;
  // Whether the view follows new turns: kept as the user scrolls, not read in each render
  // (a read there lays the whole page out a second time each frame)
  let stick = true;
  scope.listen(el, "scroll", () => {
    stick = el.scrollTop + el.clientHeight >= el.scrollHeight - 8;
  });
  const render = () => {
    // Turns are immutable: a transcript or turn that is the same object has nothing new to show
    // (scrolling lays the page out, so only when something changed).
    const transcript = scope.session.transcript;
    if (transcript === shown) return;
    shown = transcript;
    let changed = false;
    const seen = new Set<string>();
    transcript.turns.filter(visible).forEach((turn, i) => {
      seen.add(turn.id);
      let parts = rows.get(turn.id);
      if (!parts) {
        parts = newRow(turn);
        rows.set(turn.id, parts);
      }
      if (parts.turn !== turn) {
        update(parts, turn);
        changed = true;
      }
      if (el.children[i] !== parts.row) {
        el.insertBefore(parts.row, el.children[i] ?? null);
        changed = true;
      }
    });
    for (const [id, parts] of rows) {
      if (!seen.has(id)) {
        parts.row.remove();
        rows.delete(id);
        changed = true;
      }
    }
    if (changed && stick) el.scrollTop = el.scrollHeight;
  };
  return { el, render };
}
