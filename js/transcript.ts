// The live transcript as a pure reducer over the event log (both directions, with the browser's
// times): one turn per conversation item (messages and tool calls), partial text from `*.delta`
// events replaced by the final text of `*.completed` / `*.done`, interrupted replies marked,
// images a user sent kept as URLs, and per reply the latency the user felt.

import type { EventEntry } from "./generated/protocol";

export type Role = "user" | "assistant" | "tool";

export interface ToolCall {
  name: string;
  callId: string;
  arguments: string;
  /** The `function_call_output` the kernel sent back (an `{"error": …}` output sets `error`). */
  output?: string;
  error?: string;
  /** Arguments complete → output sent, in ms. */
  durationMs?: number;
}

export interface Turn {
  /** The conversation item id the text belongs to. */
  id: string;
  role: Role;
  text: string;
  /** Final text has arrived (a tool call: its output); later deltas are ignored. */
  final: boolean;
  /** Browser epoch ms when the turn appeared. */
  t: number;
  /** An assistant reply cut off before its end (cancelled, truncated, playback cleared). */
  interrupted?: boolean;
  /** Images the user sent in this turn (data URLs or URLs). */
  images?: string[];
  tool?: ToolCall;
  /** Assistant: end of the user's turn (speech stopped, or commit) → first audio, in ms. */
  latencyMs?: number;
}

export interface Transcript {
  turns: readonly Turn[];
  /** Output item ids of each response (to mark a cleared playback). */
  responses?: Readonly<Record<string, readonly string[]>>;
  /** Images of client-created user items the server has not echoed yet, oldest first. */
  pendingImages?: readonly (readonly string[])[];
  /** When the user's last turn ended, until a reply's first audio takes it. */
  userEndedAt?: number;
  /** When each tool call's arguments were complete, by call id. */
  toolStarted?: Readonly<Record<string, number>>;
}

export const EMPTY_TRANSCRIPT: Transcript = { turns: [] };

type Update = (turn: Turn) => Turn;

function upsert(state: Transcript, id: string, role: Role, t: number, update: Update): Transcript {
  const index = state.turns.findIndex((turn) => turn.id === id);
  const current = state.turns[index] ?? { id, role, text: "", final: false, t };
  const next = update(current);
  if (index >= 0 && next === current) return state;
  const turns = state.turns.slice();
  if (index >= 0) turns[index] = next;
  else turns.push(next);
  return { ...state, turns };
}

/** Apply `update` to an existing turn only. */
function patch(state: Transcript, id: string, update: Update): Transcript {
  const index = state.turns.findIndex((turn) => turn.id === id);
  const current = state.turns[index];
  if (!current) return state;
  const next = update(current);
  if (next === current) return state;
  const turns = state.turns.slice();
  turns[index] = next;
  return { ...state, turns };
}

const appendDelta =
  (delta: string): Update =>
  (turn) =>
    turn.final || !delta ? turn : { ...turn, text: turn.text + delta };

const finish =
  (text: string): Update =>
  (turn) =>
    turn.final && turn.text === text ? turn : { ...turn, text, final: true };

const markInterrupted: Update = (turn) =>
  turn.interrupted || turn.role !== "assistant" ? turn : { ...turn, interrupted: true };

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function parts(content: unknown): Record<string, unknown>[] {
  return Array.isArray(content) ? content.map(record) : [];
}

/** The text a conversation item already carries: typed text, or a transcript when present. */
function itemText(content: unknown): { text: string; typed: boolean; images: string[] } {
  let text = "";
  let typed = false;
  const images: string[] = [];
  for (const part of parts(content)) {
    if (part.type === "input_text") typed = true;
    if (part.type === "input_image") {
      typed = true;
      const url = str(part.image_url);
      if (url) images.push(url);
    }
    text += str(part.text) || str(part.transcript);
  }
  return { text, typed, images };
}

function hasImage(content: unknown): boolean {
  return parts(content).some((part) => part.type === "input_image");
}

function toolItem(state: Transcript, item: Record<string, unknown>, t: number): Transcript {
  const id = str(item.id);
  if (!id) return state;
  const args = str(item.arguments);
  return upsert(state, id, "tool", t, (turn) =>
    turn.tool
      ? turn
      : { ...turn, tool: { name: str(item.name), callId: str(item.call_id), arguments: args } },
  );
}

function fromItem(state: Transcript, event: EventEntry["event"], t: number): Transcript {
  const item = record(event.item);
  if (item.type === "function_call") return toolItem(state, item, t);
  const id = str(item.id);
  const role = item.role;
  if (!id || item.type !== "message" || (role !== "user" && role !== "assistant")) return state;
  const { text, typed, images } = itemText(item.content);
  let next = state;
  let shown = images;
  if (role === "user" && hasImage(item.content) && state.turns.every((turn) => turn.id !== id)) {
    // The client's copy carries the image (the server may not echo it): first come, first served.
    const [pending, ...rest] = state.pendingImages ?? [];
    if (pending && !images.length) shown = [...pending];
    if (pending) next = { ...next, pendingImages: rest };
  }
  // Typed text is final as soon as the item exists; audio turns get their slot in conversation
  // order now and their text from the transcription events (or from the finished item).
  const isFinal =
    (text !== "" || shown.length > 0) && (typed || event.type === "conversation.item.done");
  return upsert(next, id, role, t, (turn) => {
    const withImages = shown.length && !turn.images ? { ...turn, images: shown } : turn;
    return isFinal ? finish(text)(withImages) : withImages;
  });
}

/** The kernel's answer to a tool call. */
function toolOutput(state: Transcript, item: Record<string, unknown>, t: number): Transcript {
  const callId = str(item.call_id);
  const turn = state.turns.find((candidate) => candidate.tool?.callId === callId);
  if (!callId || !turn?.tool) return state;
  const output = str(item.output);
  let error: string | undefined;
  try {
    const parsed = record(JSON.parse(output));
    if (typeof parsed.error === "string") error = parsed.error;
  } catch {
    error = undefined; // plain text output
  }
  const started = state.toolStarted?.[callId];
  const tool: ToolCall = {
    ...turn.tool,
    output,
    ...(error === undefined ? {} : { error }),
    ...(started === undefined ? {} : { durationMs: Math.max(0, t - started) }),
  };
  return patch(state, turn.id, (current) => ({ ...current, tool, final: true }));
}

/** Ids of turns grouped from GPT-Live deltas (Live has no conversation items). */
const LIVE_TURN = "live-turn-";

/** Close the open GPT-Live turn (a change of speaker, or typed text). */
function closeLive(state: Transcript): Transcript {
  const last = state.turns[state.turns.length - 1];
  if (!last || last.final || !last.id.startsWith(LIVE_TURN)) return state;
  return patch(state, last.id, (turn) => ({ ...turn, final: true }));
}

/**
 * GPT-Live's timed transcript deltas: a delta continues the last turn while the speaker is the
 * same, and a change of speaker closes it and opens the next.
 */
function liveDelta(state: Transcript, role: Role, delta: string, t: number): Transcript {
  if (!delta) return state;
  const last = state.turns[state.turns.length - 1];
  if (last && last.role === role && !last.final && last.id.startsWith(LIVE_TURN)) {
    return patch(state, last.id, appendDelta(delta));
  }
  const closed = closeLive(state);
  const turn: Turn = {
    id: `${LIVE_TURN}${closed.turns.length}`,
    role,
    text: delta,
    final: false,
    t,
  };
  return { ...closed, turns: [...closed.turns, turn] };
}

/** Typed text in a GPT-Live session: the client's commentary append, a final user turn. */
function typedLive(state: Transcript, text: string, t: number): Transcript {
  if (!text) return state;
  const closed = closeLive(state);
  const turn: Turn = {
    id: `${LIVE_TURN}${closed.turns.length}`,
    role: "user",
    text,
    final: true,
    t,
  };
  return { ...closed, turns: [...closed.turns, turn] };
}

/** A GPT-Live backend event: a function call becomes a tool row. */
function liveBackend(state: Transcript, inner: Record<string, unknown>, t: number): Transcript {
  const item = record(inner.item);
  if (inner.type !== "response.output_item.done" || item.type !== "function_call") return state;
  const callId = str(item.call_id);
  const next = toolItem(state, { ...item, id: str(item.id) || callId }, t);
  return callId ? { ...next, toolStarted: { ...next.toolStarted, [callId]: t } } : next;
}

function reduceClient(state: Transcript, entry: EventEntry): Transcript {
  const { event, t } = entry;
  switch (event.type) {
    case "session.commentary.append":
      return event.delegation_id ? state : typedLive(state, str(event.content), t);
    case "response.item.create": {
      const item = record(event.item);
      return item.type === "function_call_output" ? toolOutput(state, item, t) : state;
    }
    case "conversation.item.create": {
      const item = record(event.item);
      if (item.type === "function_call_output") return toolOutput(state, item, t);
      const { images } = itemText(item.content);
      if (item.type !== "message" || item.role !== "user" || !hasImage(item.content)) return state;
      return { ...state, pendingImages: [...(state.pendingImages ?? []), images] };
    }
    case "conversation.item.truncate":
      return patch(state, str(event.item_id), markInterrupted);
    case "input_audio_buffer.commit":
      return { ...state, userEndedAt: t }; // push-to-talk released
    default:
      return state;
  }
}

/** The first audio of a reply: the latency since the user's turn ended, once. */
function firstAudio(state: Transcript, itemIds: readonly string[], t: number): Transcript {
  const ended = state.userEndedAt;
  const id = itemIds.find((candidate) =>
    state.turns.some((turn) => turn.id === candidate && turn.role === "assistant"),
  );
  if (ended === undefined || id === undefined) return state;
  const next = patch(state, id, (turn) =>
    turn.latencyMs === undefined ? { ...turn, latencyMs: Math.max(0, t - ended) } : turn,
  );
  const { userEndedAt: _taken, ...rest } = next;
  return rest;
}

function responseDone(state: Transcript, response: Record<string, unknown>): Transcript {
  const cut = response.status === "cancelled" || response.status === "incomplete";
  let next = state;
  for (const item of parts(response.output)) {
    if (cut || item.status === "incomplete") next = patch(next, str(item.id), markInterrupted);
  }
  return next;
}

function reduceServer(state: Transcript, entry: EventEntry): Transcript {
  const { event, t } = entry;
  const id = str(event.item_id);
  switch (event.type) {
    case "conversation.item.added":
    case "conversation.item.created":
    case "conversation.item.done":
      return fromItem(state, event, t);
    case "conversation.item.deleted": {
      const turns = state.turns.filter((turn) => turn.id !== id);
      return turns.length === state.turns.length ? state : { ...state, turns };
    }
    case "conversation.item.input_audio_transcription.delta":
      return id ? upsert(state, id, "user", t, appendDelta(str(event.delta))) : state;
    case "conversation.item.input_audio_transcription.completed":
      return id ? upsert(state, id, "user", t, finish(str(event.transcript))) : state;
    case "input_audio_buffer.speech_stopped":
      return { ...state, userEndedAt: t };
    case "response.output_item.added": {
      const responseId = str(event.response_id);
      const itemId = str(record(event.item).id);
      if (!responseId || !itemId) return state;
      const items = state.responses?.[responseId] ?? [];
      return { ...state, responses: { ...state.responses, [responseId]: [...items, itemId] } };
    }
    case "response.output_audio.delta":
      return id ? firstAudio(state, [id], t) : state;
    case "output_audio_buffer.started":
      return firstAudio(state, state.responses?.[str(event.response_id)] ?? [], t);
    case "output_audio_buffer.cleared": {
      let next = state;
      for (const itemId of state.responses?.[str(event.response_id)] ?? []) {
        next = patch(next, itemId, (turn) => (turn.final ? turn : markInterrupted(turn)));
      }
      return next;
    }
    case "response.output_audio_transcript.delta":
    case "response.output_text.delta":
      return id ? upsert(state, id, "assistant", t, appendDelta(str(event.delta))) : state;
    case "response.output_audio_transcript.done":
      return id ? upsert(state, id, "assistant", t, finish(str(event.transcript))) : state;
    case "response.output_text.done":
      return id ? upsert(state, id, "assistant", t, finish(str(event.text))) : state;
    case "response.function_call_arguments.done": {
      const callId = str(event.call_id);
      const withArgs = patch(state, id, (turn) =>
        turn.tool ? { ...turn, tool: { ...turn.tool, arguments: str(event.arguments) } } : turn,
      );
      const fallback =
        withArgs === state && !state.turns.some((turn) => turn.id === id)
          ? toolItem(
              state,
              { id, name: event.name, call_id: callId, arguments: event.arguments },
              t,
            )
          : withArgs;
      return callId
        ? { ...fallback, toolStarted: { ...fallback.toolStarted, [callId]: t } }
        : fallback;
    }
    case "response.done":
      return responseDone(state, record(event.response));
    case "session.input_transcript.delta":
      return liveDelta(state, "user", str(event.delta), t);
    case "session.output_transcript.delta":
      return liveDelta(state, "assistant", str(event.delta), t);
    case "response.event":
      return liveBackend(state, record(event.event), t);
    default:
      return state;
  }
}

export function reduceTranscript(state: Transcript, entry: EventEntry): Transcript {
  return entry.dir === "client" ? reduceClient(state, entry) : reduceServer(state, entry);
}

/** Whether a turn has anything to show yet. */
export function visible(turn: Turn): boolean {
  return turn.text !== "" || Boolean(turn.images?.length) || turn.tool !== undefined;
}
