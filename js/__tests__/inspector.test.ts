import { describe, expect, it } from "vitest";
import type { EventEntry } from "../generated/protocol";
import { inspectorRows, rowJson } from "../inspector";

const server = (type: string, extra: Record<string, unknown> = {}, t = 0): EventEntry => ({
  dir: "server",
  t,
  event: { type, ...extra },
});

describe("inspectorRows", () => {
  const log: EventEntry[] = [
    server("response.created"),
    server("response.output_audio_transcript.delta", { item_id: "a", delta: "H" }, 1),
    server("response.output_audio_transcript.delta", { item_id: "a", delta: "i" }, 2),
    server("response.output_audio_transcript.delta", { item_id: "b", delta: "x" }, 3),
    server("rate_limits.updated"),
    server("response.output_audio_transcript.delta", { item_id: "b", delta: "y" }),
    { dir: "client", t: 5, event: { type: "response.cancel" } },
  ];

  it("folds consecutive deltas of one item into a counted row", () => {
    const rows = inspectorRows(log);
    expect(rows.map((r) => [r.type, r.count])).toEqual([
      ["response.created", 1],
      ["response.output_audio_transcript.delta", 2],
      ["response.output_audio_transcript.delta", 1],
      ["rate_limits.updated", 1],
      ["response.output_audio_transcript.delta", 1],
      ["response.cancel", 1],
    ]);
    expect(rows[1]?.t).toBe(1);
    expect(rows[1]?.start).toBe(1);
  });

  it("filters by a case-insensitive type substring", () => {
    const rows = inspectorRows(log, " CANCEL");
    expect(rows.map((r) => [r.dir, r.type])).toEqual([["client", "response.cancel"]]);
  });

  it("shows one event, or the folded events as a list", () => {
    const rows = inspectorRows(log);
    expect(JSON.parse(rowJson(rows[0] as never))).toEqual({ type: "response.created" });
    expect(JSON.parse(rowJson(rows[1] as never)).map((e: { delta: string }) => e.delta)).toEqual([
      "H",
      "i",
    ]);
  });
});
