// The live transcript as a pure reducer over GA server events: one turn per conversation item,
// partial text from `*.delta` events replaced by the final text of `*.completed` / `*.done`.

import type { ServerEvent } from "./messages";

export type Role = "user" | "assistant";

export interface Turn {
  /** The conversation item id the text belongs to. */
  id: string;
  role: Role;
  text: string;
  /** Final text has arrived; later deltas for the item are ignored. */
  final: boolean;
}

export interface Transcript {
  turns: readonly Turn[];
}

export const EMPTY_TRANSCRIPT: Transcript = { turns: [] };

type Update = (turn: Turn) => Turn;

function upsert(state: Transcript, id: string, role: Role, update: Update): Transcript {
  const index = state.turns.findIndex((t) => t.id === id);
  const current = state.turns[index] ?? { id, role, text: "", final: false };
  const next = update(current);
  if (index >= 0 && next === current) return state;
  const turns = state.turns.slice();
  if (index >= 0) turns[index] = next;
  else turns.push(next);
  return { turns };
}

const appendDelta =
  (delta: string): Update =>
  (turn) =>
    turn.final || !delta ? turn : { ...turn, text: turn.text + delta };

const finish =
  (text: string): Update =>
  (turn) =>
    turn.final && turn.text === text ? turn : { ...turn, text, final: true };

const keep: Update = (turn) => turn;

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** The text a conversation item already carries: typed text, or a transcript when present. */
function itemText(content: unknown): { text: string; typed: boolean } {
  if (!Array.isArray(content)) return { text: "", typed: false };
  let text = "";
  let typed = false;
  for (const part of content as Record<string, unknown>[]) {
    if (part?.type === "input_text") typed = true;
    text += str(part?.text) || str(part?.transcript);
  }
  return { text, typed };
}

function fromItem(state: Transcript, event: ServerEvent): Transcript {
  const item = event.item as Record<string, unknown> | undefined;
  const id = str(item?.id);
  const role = item?.role;
  if (!id || item?.type !== "message" || (role !== "user" && role !== "assistant")) return state;
  const { text, typed } = itemText(item.content);
  // Typed text is final as soon as the item exists; audio turns get their slot in conversation
  // order now and their text from the transcription events (or from the finished item).
  const isFinal = text !== "" && (typed || event.type === "conversation.item.done");
  return upsert(state, id, role, isFinal ? finish(text) : keep);
}

export function reduceTranscript(state: Transcript, event: ServerEvent): Transcript {
  const id = str(event.item_id);
  switch (event.type) {
    case "conversation.item.added":
    case "conversation.item.created":
    case "conversation.item.done":
      return fromItem(state, event);
    case "conversation.item.deleted": {
      const turns = state.turns.filter((t) => t.id !== id);
      return turns.length === state.turns.length ? state : { turns };
    }
    case "conversation.item.input_audio_transcription.delta":
      return id ? upsert(state, id, "user", appendDelta(str(event.delta))) : state;
    case "conversation.item.input_audio_transcription.completed":
      return id ? upsert(state, id, "user", finish(str(event.transcript))) : state;
    case "response.output_audio_transcript.delta":
    case "response.output_text.delta":
      return id ? upsert(state, id, "assistant", appendDelta(str(event.delta))) : state;
    case "response.output_audio_transcript.done":
      return id ? upsert(state, id, "assistant", finish(str(event.transcript))) : state;
    case "response.output_text.done":
      return id ? upsert(state, id, "assistant", finish(str(event.text))) : state;
    default:
      return state;
  }
}
