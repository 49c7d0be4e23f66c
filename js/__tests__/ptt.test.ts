import { describe, expect, it } from "vitest";
import { micEnabled, pressEvents, releaseEvents, SILENT, trackPlayback } from "../ptt";

const types = (events: { type: string }[]) => events.map((e) => e.type);

describe("push-to-talk", () => {
  it("interrupts a response that is still being generated", () => {
    const playback = trackPlayback(SILENT, { type: "response.created" });
    expect(types(pressEvents(playback))).toEqual([
      "response.cancel",
      "output_audio_buffer.clear",
      "input_audio_buffer.clear",
    ]);
  });

  it("clears audio still playing after the response is done, without a cancel", () => {
    let playback = trackPlayback(SILENT, { type: "response.created" });
    playback = trackPlayback(playback, { type: "output_audio_buffer.started" });
    playback = trackPlayback(playback, { type: "response.done" });
    expect(types(pressEvents(playback))).toEqual([
      "output_audio_buffer.clear",
      "input_audio_buffer.clear",
    ]);
    playback = trackPlayback(playback, { type: "output_audio_buffer.stopped" });
    expect(types(pressEvents(playback))).toEqual(["input_audio_buffer.clear"]);
  });

  it("commits then asks for a response on release", () => {
    expect(types(releaseEvents())).toEqual(["input_audio_buffer.commit", "response.create"]);
  });

  it("gates the mic on mute and on the held button", () => {
    expect(micEnabled(false, false, false)).toBe(true);
    expect(micEnabled(true, false, false)).toBe(false);
    expect(micEnabled(false, true, false)).toBe(false);
    expect(micEnabled(false, true, true)).toBe(true);
    expect(micEnabled(true, true, true)).toBe(false);
  });
});
