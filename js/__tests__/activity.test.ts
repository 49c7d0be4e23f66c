import { describe, expect, it } from "vitest";
import type { ActivityState } from "../activity";
import { IDLE_ACTIVITY, reduceActivity } from "../activity";
import type { EventEntry } from "../generated/protocol";

const server = (type: string, extra: Record<string, unknown> = {}): EventEntry => ({
  dir: "server",
  t: 0,
  event: { type, ...extra },
});
const steps = (entries: EventEntry[]): string[] => {
  let state: ActivityState = IDLE_ACTIVITY;
  return entries.map((entry) => {
    state = reduceActivity(state, entry);
    return state.activity;
  });
};

describe("reduceActivity", () => {
  it("follows a spoken exchange", () => {
    expect(
      steps([
        server("input_audio_buffer.speech_started"),
        server("input_audio_buffer.speech_stopped"),
        server("response.created"),
        server("output_audio_buffer.started"),
        server("response.done"),
        server("output_audio_buffer.stopped"),
      ]),
    ).toEqual([
      "user speaking",
      "thinking",
      "thinking",
      "assistant speaking",
      "assistant speaking",
      "listening",
    ]);
  });

  it("shows a tool running until its output is sent", () => {
    expect(
      steps([
        server("response.created"),
        server("response.function_call_arguments.done"),
        server("response.done"),
        {
          dir: "client",
          t: 0,
          event: { type: "conversation.item.create", item: { type: "function_call_output" } },
        },
        server("response.created"),
        server("response.done"),
      ]),
    ).toEqual(["thinking", "tool running", "tool running", "thinking", "thinking", "listening"]);
  });

  it("thinks after a push-to-talk commit", () => {
    expect(steps([{ dir: "client", t: 0, event: { type: "input_audio_buffer.commit" } }])).toEqual([
      "thinking",
    ]);
  });
});
