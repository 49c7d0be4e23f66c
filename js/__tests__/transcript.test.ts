import { describe, expect, it } from "vitest";
import type { EventEntry } from "../generated/protocol";
import type { ServerEvent } from "../messages";
import type { Transcript, Turn } from "../transcript";
import { EMPTY_TRANSCRIPT, reduceTranscript as reduceEntry } from "../transcript";

/** Server events at t = 0, 1, 2… ms (client ones through `client`). */
const run = (events: (ServerEvent | EventEntry)[], from: Transcript = EMPTY_TRANSCRIPT) =>
  events.reduce(
    (state, e, i) =>
      reduceEntry(state, "dir" in e ? (e as EventEntry) : { dir: "server", t: i, event: e }),
    from,
  );
const reduceTranscript = (state: Transcript, event: ServerEvent) =>
  reduceEntry(state, { dir: "server", t: 0, event });
const client = (t: number, event: ServerEvent): EventEntry => ({ dir: "client", t, event });
const at = (t: number, event: ServerEvent): EventEntry => ({ dir: "server", t, event });
/** The fields the older tests compare. */
const core = (turns: readonly Turn[]) =>
  turns.map(({ id, role, text, final }) => ({ id, role, text, final }));

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
    expect(core(partial.turns)).toEqual([
      { id: "u1", role: "user", text: "Hello wrld", final: false },
    ]);
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
    expect(core(done.turns)).toEqual([
      { id: "u1", role: "user", text: "Hello world", final: true },
    ]);
  });

  it("builds assistant turns from audio transcripts and text, keyed by item", () => {
    const t = run([
      { type: "response.output_audio_transcript.delta", item_id: "a1", delta: "Hi" },
      { type: "response.output_text.delta", item_id: "a2", delta: "Te" },
      { type: "response.output_audio_transcript.delta", item_id: "a1", delta: " there" },
      { type: "response.output_text.done", item_id: "a2", text: "Text reply" },
    ]);
    expect(core(t.turns)).toEqual([
      { id: "a1", role: "assistant", text: "Hi there", final: false },
      { id: "a2", role: "assistant", text: "Text reply", final: true },
    ]);
    const done = reduceTranscript(t, {
      type: "response.output_audio_transcript.done",
      item_id: "a1",
      transcript: "Hi there.",
    });
    expect(core(done.turns)[0]).toEqual({
      id: "a1",
      role: "assistant",
      text: "Hi there.",
      final: true,
    });
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
    expect(core(t.turns)).toEqual([{ id: "u2", role: "user", text: "Hello", final: true }]);
    expect(
      core(reduceTranscript(t, { type: "conversation.item.deleted", item_id: "u2" }).turns),
    ).toEqual([]);
  });

  it("returns the same state for events it does not use", () => {
    const t = run([{ type: "response.output_text.delta", item_id: "a", delta: "x" }]);
    expect(reduceTranscript(t, { type: "rate_limits.updated" })).toBe(t);
    expect(
      reduceTranscript(t, { type: "response.output_text.delta", item_id: "a", delta: "" }),
    ).toBe(t);
  });

  it("stamps each turn with the browser time it appeared", () => {
    const t = run([
      at(1000, { type: "response.output_text.delta", item_id: "a", delta: "x" }),
      at(2000, { type: "response.output_text.delta", item_id: "a", delta: "y" }),
    ]);
    expect(t.turns[0]).toMatchObject({ text: "xy", t: 1000 });
  });

  it("shows a tool call as its own row: arguments, output, duration", () => {
    const t = run([
      at(10, {
        type: "conversation.item.added",
        item: { id: "f1", type: "function_call", name: "add", call_id: "c1", arguments: "" },
      }),
      at(20, {
        type: "response.function_call_arguments.done",
        item_id: "f1",
        call_id: "c1",
        name: "add",
        arguments: '{"a":1}',
      }),
      client(65, {
        type: "conversation.item.create",
        item: { type: "function_call_output", call_id: "c1", output: "2" },
      }),
    ]);
    expect(t.turns).toHaveLength(1);
    expect(t.turns[0]).toMatchObject({
      id: "f1",
      role: "tool",
      final: true,
      t: 10,
      tool: { name: "add", callId: "c1", arguments: '{"a":1}', output: "2", durationMs: 45 },
    });
  });

  it("marks a tool's error output as an error", () => {
    const t = run([
      at(0, {
        type: "response.function_call_arguments.done",
        item_id: "f2",
        call_id: "c2",
        name: "boom",
        arguments: "{}",
      }),
      client(5, {
        type: "conversation.item.create",
        item: { type: "function_call_output", call_id: "c2", output: '{"error": "no way"}' },
      }),
    ]);
    expect(t.turns[0]?.tool).toMatchObject({ name: "boom", error: "no way", durationMs: 5 });
  });

  it("marks interrupted replies (cancelled response, truncate, cleared playback)", () => {
    const base = run([
      { type: "response.output_item.added", response_id: "r1", item: { id: "a1" } },
      { type: "response.output_audio_transcript.delta", item_id: "a1", delta: "Here is the" },
    ]);
    const cancelled = reduceTranscript(base, {
      type: "response.done",
      response: { id: "r1", status: "cancelled", output: [{ id: "a1", status: "incomplete" }] },
    });
    expect(cancelled.turns[0]).toMatchObject({ text: "Here is the", interrupted: true });
    const truncated = run([client(9, { type: "conversation.item.truncate", item_id: "a1" })], base);
    expect(truncated.turns[0]?.interrupted).toBe(true);
    const cleared = reduceTranscript(base, {
      type: "output_audio_buffer.cleared",
      response_id: "r1",
    });
    expect(cleared.turns[0]?.interrupted).toBe(true);
    const finished = reduceTranscript(base, {
      type: "response.done",
      response: { id: "r1", status: "completed", output: [{ id: "a1", status: "completed" }] },
    });
    expect(finished.turns[0]?.interrupted).toBeUndefined();
  });

  it("shows the image a user sent (from the client's copy when the server omits it)", () => {
    const url = "data:image/png;base64,iVBORw0KGgo=";
    const t = run([
      client(1, {
        type: "conversation.item.create",
        item: {
          type: "message",
          role: "user",
          content: [
            { type: "input_image", image_url: url },
            { type: "input_text", text: "Look" },
          ],
        },
      }),
      at(2, {
        type: "conversation.item.added",
        item: {
          id: "u9",
          type: "message",
          role: "user",
          content: [{ type: "input_image" }, { type: "input_text", text: "Look" }],
        },
      }),
    ]);
    expect(t.turns[0]).toMatchObject({ id: "u9", text: "Look", images: [url], final: true });
    expect(t.pendingImages).toEqual([]);
  });

  it("measures the felt latency: end of speech to the reply's first audio, once", () => {
    const t = run([
      at(100, { type: "input_audio_buffer.speech_stopped", item_id: "u1" }),
      at(150, { type: "response.output_item.added", response_id: "r1", item: { id: "a1" } }),
      at(160, {
        type: "conversation.item.added",
        item: { id: "a1", type: "message", role: "assistant", content: [] },
      }),
      at(420, { type: "output_audio_buffer.started", response_id: "r1" }),
      at(500, { type: "response.output_audio.delta", item_id: "a1" }),
    ]);
    expect(t.turns[0]).toMatchObject({ id: "a1", latencyMs: 320 });
    expect(t.userEndedAt).toBeUndefined();
  });
});

describe("GPT-Live transcript deltas", () => {
  const user = (delta: string) => ({ type: "session.input_transcript.delta", delta });
  const model = (delta: string) => ({ type: "session.output_transcript.delta", delta });
  const rows = (state: Transcript) => state.turns.map((t) => [t.role, t.text, t.final]);

  it("groups deltas into a turn until the speaker changes, which closes it", () => {
    const state = run([user("What "), user("time?"), model("Noon"), model("."), user("Thanks")]);
    expect(rows(state)).toEqual([
      ["user", "What time?", true],
      ["assistant", "Noon.", true],
      ["user", "Thanks", false],
    ]);
    expect(new Set(state.turns.map((t) => t.id)).size).toBe(3);
    expect(run([user("")])).toBe(EMPTY_TRANSCRIPT);
  });

  it("shows typed commentary as a user turn; delegation answers and thinking are not", () => {
    const state = run([
      model("Hi"),
      client(5, { type: "session.commentary.append", content: "Hello", delegation_id: null }),
      client(6, { type: "session.commentary.append", content: "r", delegation_id: "dlg_1" }),
      client(7, { type: "session.thinking.append", content: "quiet", delegation_id: null }),
      at(8, model("Sure")),
    ]);
    expect(rows(state)).toEqual([
      ["assistant", "Hi", true],
      ["user", "Hello", true],
      ["assistant", "Sure", false],
    ]);
  });

  it("shows a backend function call and the kernel's output as a tool row", () => {
    const call = { type: "function_call", call_id: "c1", name: "add", arguments: "{}" };
    const state = run([
      at(10, {
        type: "response.event",
        delegation_id: "d1",
        event: { type: "response.output_item.done", item: call },
      }),
      client(35, {
        type: "response.item.create",
        item: { type: "function_call_output", call_id: "c1", output: "5" },
      }),
    ]);
    expect(state.turns[0]?.tool).toMatchObject({ name: "add", output: "5", durationMs: 25 });
    expect(state.turns[0]?.final).toBe(true);
  });
});
