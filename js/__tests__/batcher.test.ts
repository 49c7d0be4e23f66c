import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Batcher } from "../batcher";

describe("Batcher", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("delivers a 5,000-event burst complete, in order, in 25 sends", () => {
    const sends: number[][] = [];
    const batcher = new Batcher<number>((batch) => sends.push(batch));
    for (let i = 0; i < 5000; i++) batcher.push(i);
    vi.runAllTimers();
    expect(sends).toHaveLength(25);
    expect(sends.every((b) => b.length === 200)).toBe(true);
    expect(sends.flat()).toEqual(Array.from({ length: 5000 }, (_, i) => i));
  });

  it("sends a remainder after the interval, after the full batches", () => {
    const sends: number[][] = [];
    const batcher = new Batcher<number>((batch) => sends.push(batch));
    for (let i = 0; i < 450; i++) batcher.push(i);
    expect(sends.map((b) => b.length)).toEqual([200, 200]);
    vi.advanceTimersByTime(50);
    expect(sends.map((b) => b.length)).toEqual([200, 200, 50]);
    expect(sends.flat()).toEqual(Array.from({ length: 450 }, (_, i) => i));
  });

  it("flushes 50 ms after the first entry, with one timer", () => {
    const sends: string[][] = [];
    const batcher = new Batcher<string>((batch) => sends.push(batch));
    batcher.push("a");
    vi.advanceTimersByTime(30);
    batcher.push("b");
    batcher.push("c");
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(19);
    expect(sends).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(sends).toEqual([["a", "b", "c"]]);
    batcher.push("d");
    vi.advanceTimersByTime(50);
    expect(sends).toEqual([["a", "b", "c"], ["d"]]);
  });

  it("flush() sends what is pending at once and leaves no timer", () => {
    const sends: string[][] = [];
    const batcher = new Batcher<string>((batch) => sends.push(batch));
    batcher.push("x");
    batcher.push("y");
    batcher.flush();
    expect(sends).toEqual([["x", "y"]]);
    expect(vi.getTimerCount()).toBe(0);
    batcher.flush();
    vi.advanceTimersByTime(1000);
    expect(sends).toEqual([["x", "y"]]);
  });
});
