import { describe, expect, it } from "vitest";
import { ChunkCollector, RECORD_RATE, toPcm16 } from "../recorder";

describe("toPcm16", () => {
  it("halves 48 kHz by averaging pairs, scaled to int16", () => {
    const out = toPcm16(Float32Array.from([0.5, 0.5, -1, -1, 1, 0.5]), 48000);
    expect(Array.from(out)).toEqual([16384, -32768, 24576]);
  });

  it("interpolates other rates and keeps duration", () => {
    const second = new Float32Array(44100).fill(0.25);
    const out = toPcm16(second, 44100);
    expect(out.length).toBe(RECORD_RATE);
    expect(out.every((v) => v === 8192)).toBe(true);
  });

  it("clips out-of-range samples", () => {
    expect(Array.from(toPcm16(Float32Array.from([2, -2]), RECORD_RATE))).toEqual([32767, -32768]);
  });
});

describe("ChunkCollector", () => {
  it("emits ~500 ms chunks stamped with their first sample's time", () => {
    const chunks: [number, number][] = [];
    const collector = new ChunkCollector(48000, (pcm, t) => chunks.push([pcm.length, t]));
    const block = new Float32Array(128);
    let at = 1_000_000;
    for (let i = 0; i < 400; i++) {
      at += (128 / 48000) * 1000;
      collector.push(block, at);
    }
    collector.flush();
    expect(chunks.length).toBe(3); // 400 blocks of 2.67 ms = 1.07 s: two full chunks, one tail
    expect(chunks[0]?.[0]).toBe(12032); // 188 blocks x 128 / 2
    expect(chunks[0]?.[1]).toBeCloseTo(1_000_000, 6);
    expect(chunks[1]?.[1]).toBeCloseTo(1_000_000 + (188 * 128 * 1000) / 48000, 6);
    const total = chunks.reduce((sum, [n]) => sum + n, 0);
    expect(total).toBe((400 * 128) / 2);
  });
});
