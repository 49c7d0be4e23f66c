// What the session is doing, at a glance: a pure reducer over the event log (both directions).

import type { EventEntry } from "./generated/protocol";

export type Activity =
  | "listening"
  | "user speaking"
  | "thinking"
  | "assistant speaking"
  | "tool running";

export interface ActivityState {
  activity: Activity;
  /** Assistant audio is playing (between output_audio_buffer.started and stopped/cleared). */
  playing: boolean;
  /** Tool calls whose output has not been sent yet. */
  tools: number;
}

export const IDLE_ACTIVITY: ActivityState = { activity: "listening", playing: false, tools: 0 };

function settle(state: ActivityState): ActivityState {
  if (state.tools > 0) return { ...state, activity: "tool running" };
  if (state.playing) return { ...state, activity: "assistant speaking" };
  return { ...state, activity: "listening" };
}

export function reduceActivity(state: ActivityState, entry: EventEntry): ActivityState {
  const { type } = entry.event;
  if (entry.dir === "client") {
    if (type === "input_audio_buffer.commit") return { ...state, activity: "thinking" };
    const item = entry.event.item as { type?: unknown } | undefined;
    if (type === "conversation.item.create" && item?.type === "function_call_output") {
      return { ...state, tools: Math.max(0, state.tools - 1), activity: "thinking" };
    }
    return state;
  }
  switch (type) {
    case "input_audio_buffer.speech_started":
      return { ...state, activity: "user speaking" };
    case "input_audio_buffer.speech_stopped":
    case "response.created":
      return state.playing ? state : { ...state, activity: "thinking" };
    case "output_audio_buffer.started":
      return { ...state, playing: true, activity: "assistant speaking" };
    case "output_audio_buffer.stopped":
    case "output_audio_buffer.cleared":
      return settle({ ...state, playing: false });
    case "response.function_call_arguments.done":
      return { ...state, tools: state.tools + 1, activity: "tool running" };
    case "response.done":
      return state.activity === "thinking" && !state.playing ? settle(state) : state;
    default:
      return state;
  }
}
