// GPT-Live keeps no state across calls and takes no history items once a session runs, but a
// new session may start with `input` (text items, at most 128 and 8,192 tokens). A call that
// replaces a lost one starts with the conversation so far there: the session's own startup
// `input` first, then the transcript's user and assistant turns, the oldest dropped first.

import type { Transcript } from "./transcript";

export const LIVE_INPUT_ITEMS = 128;
export const LIVE_INPUT_TOKENS = 8192;

/** A rough token count (about four characters a token), never zero for a non-empty text. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

type InitialItem = Record<string, unknown>;

function itemText(item: InitialItem): string {
  const content = Array.isArray(item.content) ? item.content : [];
  return content.map((part) => String((part as { text?: unknown }).text ?? "")).join(" ");
}

/** The session config for a Live call replacing a lost one: `input` carries the history. */
export function withLiveHistory(
  session: Record<string, unknown>,
  transcript: Transcript,
): Record<string, unknown> {
  const startup = Array.isArray(session.input) ? (session.input as InitialItem[]) : [];
  let items = LIVE_INPUT_ITEMS - startup.length;
  let tokens =
    LIVE_INPUT_TOKENS - startup.reduce((n, item) => n + estimateTokens(itemText(item)), 0);
  const history: InitialItem[] = [];
  for (let i = transcript.turns.length - 1; i >= 0 && items > 0; i--) {
    const turn = transcript.turns[i];
    const text = turn?.text.trim();
    if (!turn || !text || turn.role === "tool") continue;
    const cost = estimateTokens(text);
    if (cost > tokens) break;
    const part = turn.role === "user" ? "input_text" : "output_text";
    history.unshift({ type: "message", role: turn.role, content: [{ type: part, text }] });
    items -= 1;
    tokens -= cost;
  }
  if (history.length === 0) return session;
  return { ...session, input: [...startup, ...history] };
}
