import { describe, expect, it } from "vitest";
import type { ServerEvent } from "../messages";
import type { Transcript } from "../transcript";
import { EMPTY_TRANSCRIPT, reduceTranscript } from "../transcript";

const run = (events: ServerEvent[], from: Transcript = EMPTY_TRANSCRIPT) =>
  events.reduce(reduceTranscript, from);

describe("reduceTranscript", () => {
  it("replaces a user's partial transcription by the completed one", () => {
    const partial = run([
      { type: "conversation.item.input_audio_transcription.delta", item_id: "u1", delta: "Hel" },
      {
        type: "conversation.item.input_audio_transcription.delta",
        item_id: "u1",
        delta: "lo wrld",
      },
    ]);
    expect(partial.turns).toEqual([{ id: "u1", role: "user", text: "Hello wrld", final: false }]);
    const done = run(
      [
        {
          type: "conversation.item.input_audio_transcription.completed",
          item_id: "u1",
          transcript: "Hello world",
        },
        { type: "conversation.item.input_audio_transcription.delta", item_id: "u1", delta: "!!" },
      ],
      partial,
    );
    expect(done.turns).toEqual([{ id: "u1", role: "user", text: "Hello world", final: true }]);
  });

  it("builds assistant turns from audio transcripts and text, keyed by item", () => {
    const t = run([
      { type: "response.output_audio_transcript.delta", item_id: "a1", delta: "Hi" },
      { type: "response.output_text.delta", item_id: "a2", delta: "Te" },
      { type: "response.output_audio_transcript.delta", item_id: "a1", delta: " there" },
      { type: "response.output_text.done", item_id: "a2", text: "Text reply" },
    ]);
    expect(t.turns).toEqual([
      { id: "a1", role: "assistant", text: "Hi there", final: false },
      { id: "a2", role: "assistant", text: "Text reply", final: true },
    ]);
    const done = reduceTranscript(t, {
      type: "response.output_audio_transcript.done",
      item_id: "a1",
      transcript: "Hi there.",
    });
    expect(done.turns[0]).toEqual({ id: "a1", role: "assistant", text: "Hi there.", final: true });
  });

  it("keeps conversation order when the user's transcription arrives late", () => {
    const t = run([
      {
        type: "conversation.item.added",
        item: { id: "u1", type: "message", role: "user", content: [{ type: "input_audio" }] },
      },
      {
        type: "conversation.item.added",
        item: { id: "a1", type: "message", role: "assistant", content: [] },
      },
      { type: "response.output_audio_transcript.done", item_id: "a1", transcript: "Sure." },
      {
        type: "conversation.item.input_audio_transcription.completed",
        item_id: "u1",
        transcript: "Can you help?",
      },
    ]);
    expect(t.turns.map((turn) => [turn.role, turn.text])).toEqual([
      ["user", "Can you help?"],
      ["assistant", "Sure."],
    ]);
  });

  it("shows typed user text at once and removes deleted items", () => {
    const t = run([
      {
        type: "conversation.item.added",
        item: {
          id: "u2",
          type: "message",
          role: "user",
          content: [{ type: "input_text", text: "Hello" }],
        },
      },
      {
        type: "conversation.item.added",
        item: {
          id: "s1",
          type: "message",
          role: "system",
          content: [{ type: "input_text", text: "x" }],
        },
      },
    ]);
    expect(t.turns).toEqual([{ id: "u2", role: "user", text: "Hello", final: true }]);
    expect(reduceTranscript(t, { type: "conversation.item.deleted", item_id: "u2" }).turns).toEqual(
      [],
    );
  });

  it("returns the same state for events it does not use", () => {
    const t = run([{ type: "response.output_text.delta", item_id: "a", delta: "x" }]);
    expect(reduceTranscript(t, { type: "rate_limits.updated" })).toBe(t);
    expect(
      reduceTranscript(t, { type: "response.output_text.delta", item_id: "a", delta: "" }),
    ).toBe(t);
  });
});
