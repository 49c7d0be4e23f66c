// The rollover waits for a quiet moment: after the planned one, until no reply is in progress or
// playing and the user is not speaking, at the latest until the deadline before `expires_at`.

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { EventEntry } from "../generated/protocol";
import { QUIET, QuietRollover, reduceBusy, rolloverPlan } from "../rollover";

const server = (type: string): EventEntry => ({ dir: "server", t: 0, event: { type } });

function rollover() {
  const rolled: number[] = [];
  const r = new QuietRollover(() => rolled.push(Date.now()));
  const feed = (...types: string[]) => {
    for (const type of types) r.observe(server(type));
  };
  return { r, rolled, feed };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => vi.useRealTimers());

describe("rolloverPlan", () => {
  it("plans with 30 s left of an hour and goes at the latest with 5 s left", () => {
    expect(rolloverPlan(3_600_000)).toEqual({ waitMs: 3_570_000, deadlineMs: 3_595_000 });
  });

  it("plans a short session with a fifth left, the deadline with a tenth left", () => {
    const plan = rolloverPlan(12_000);
    expect(plan.waitMs).toBeCloseTo(9_600);
    expect(plan.deadlineMs).toBeCloseTo(10_800);
    expect(rolloverPlan(-5)).toEqual({ waitMs: 0, deadlineMs: 0 });
  });
});

describe("reduceBusy", () => {
  it("follows responses, playback and the user's speech, and a new call starts quiet", () => {
    const steps: [string, Partial<typeof QUIET>][] = [
      ["response.created", { responseActive: true }],
      ["output_audio_buffer.started", { responseActive: true, audioPlaying: true }],
      ["response.done", { audioPlaying: true }],
      ["input_audio_buffer.speech_started", { audioPlaying: true, speaking: true }],
      ["output_audio_buffer.cleared", { speaking: true }],
      ["input_audio_buffer.speech_stopped", {}],
      ["response.created", { responseActive: true }],
      ["session.created", {}],
    ];
    let busy = QUIET;
    for (const [type, expected] of steps) {
      busy = reduceBusy(busy, server(type));
      expect(busy, type).toEqual({ ...QUIET, ...expected });
    }
    const client: EventEntry = { dir: "client", t: 0, event: { type: "response.created" } };
    expect(reduceBusy(QUIET, client)).toBe(QUIET);
  });
});

describe("QuietRollover", () => {
  it("rolls over at the planned moment when nothing is going on", () => {
    const { r, rolled } = rollover();
    r.schedule(10_000);
    vi.advanceTimersByTime(7_999);
    expect(rolled).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(rolled.length).toBe(1);
    vi.advanceTimersByTime(10_000);
    expect(rolled.length).toBe(1); // once: the deadline was cancelled
  });

  it("waits for a reply in progress to finish playing", () => {
    const { r, rolled, feed } = rollover();
    r.schedule(100_000);
    vi.advanceTimersByTime(70_000);
    feed("response.created", "output_audio_buffer.started");
    vi.advanceTimersByTime(10_000); // the planned moment passes mid-reply
    expect(r.due).toBe(true);
    feed("response.done");
    expect(rolled).toEqual([]); // still playing
    feed("output_audio_buffer.stopped");
    expect(rolled.length).toBe(1);
  });

  it("waits while the user speaks", () => {
    const { r, rolled, feed } = rollover();
    r.schedule(100_000);
    feed("input_audio_buffer.speech_started");
    vi.advanceTimersByTime(85_000);
    expect(rolled).toEqual([]);
    feed("input_audio_buffer.speech_stopped");
    expect(rolled.length).toBe(1);
  });

  it("goes anyway at the deadline before the session expires", () => {
    const { r, rolled, feed } = rollover();
    r.schedule(100_000);
    feed("input_audio_buffer.speech_started", "response.created");
    vi.advanceTimersByTime(94_999);
    expect(rolled).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(rolled.length).toBe(1);
    feed("input_audio_buffer.speech_stopped", "response.done");
    expect(rolled.length).toBe(1);
  });

  it("does nothing once cancelled, and a new plan replaces the old", () => {
    const { r, rolled } = rollover();
    r.schedule(10_000);
    r.schedule(100_000);
    vi.advanceTimersByTime(50_000);
    expect(rolled).toEqual([]);
    r.cancel();
    vi.advanceTimersByTime(100_000);
    expect(rolled).toEqual([]);
  });
});
