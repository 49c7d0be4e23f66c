import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Batcher } from "../batcher";

describe("Batcher", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("delivers a 5,000-event burst complete, in order, in few sends", () => {
    const sends: number[][] = [];
    const batcher = new Batcher<number>((batch) => sends.push(batch));
    for (let i = 0; i < 5000; i++) batcher.push(i);
    vi.runAllTimers();
    // full batches of 200 as they fill, then the remainder in the next task
    expect(sends.map((b) => b.length)).toEqual([...Array(25).fill(200)]);
    expect(sends.flat()).toEqual(Array.from({ length: 5000 }, (_, i) => i));
  });

  it("sends in the next task while fewer than `window` sends await their ack", () => {
    const sends: string[][] = [];
    const batcher = new Batcher<string>((batch) => sends.push(batch), { window: 2 });
    batcher.push("a");
    expect(sends).toEqual([]);
    vi.advanceTimersByTime(0);
    expect(sends).toEqual([["a"]]);
    batcher.push("b");
    vi.advanceTimersByTime(0);
    expect(sends).toEqual([["a"], ["b"]]);
    batcher.push("c"); // two await their ack: grouped
    batcher.push("d");
    vi.advanceTimersByTime(0);
    expect(sends).toHaveLength(2);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(49);
    expect(sends).toHaveLength(2);
    vi.advanceTimersByTime(1); // no ack within the interval: the group goes anyway
    expect(sends).toEqual([["a"], ["b"], ["c", "d"]]);
  });

  it("an ack frees a slot: what waits goes at once, not at the timer", () => {
    const sends: string[][] = [];
    const acks: (() => void)[] = [];
    const batcher = new Batcher<string>(
      (batch, acked) => {
        sends.push(batch);
        acks.push(acked);
      },
      { window: 1 },
    );
    batcher.push("a");
    vi.advanceTimersByTime(0);
    batcher.push("b"); // grouped while "a" is with the kernel
    batcher.push("c");
    expect(sends).toEqual([["a"]]);
    acks[0]?.();
    expect(sends).toEqual([["a"], ["b", "c"]]);
    expect(vi.getTimerCount()).toBe(0);
    acks[0]?.(); // a repeated ack changes nothing
    acks[1]?.();
    batcher.push("d"); // idle again: in the next task
    vi.advanceTimersByTime(0);
    expect(sends).toEqual([["a"], ["b", "c"], ["d"]]);
  });

  it("with prompt acks every entry goes at once, in order, none lost", () => {
    const sends: number[][] = [];
    const batcher = new Batcher<number>((batch, acked) => {
      sends.push(batch);
      acked(); // a kernel that keeps up
    });
    for (let i = 0; i < 100; i++) {
      batcher.push(i);
      vi.advanceTimersByTime(5);
    }
    expect(sends).toEqual(Array.from({ length: 100 }, (_, i) => [i]));
    expect(vi.getTimerCount()).toBe(0);
  });

  it("a kernel that never acks gets one batch per interval, and bounded bookkeeping", () => {
    const sends: number[][] = [];
    const batcher = new Batcher<number>((batch) => sends.push(batch));
    for (let i = 0; i < 2000; i++) {
      batcher.push(i);
      vi.advanceTimersByTime(5); // 200 events/s for 10 s
    }
    vi.runAllTimers();
    expect(sends.flat()).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    // 2 at once, then at most one send per 50 ms (plus a window again each time the
    // unacknowledged sends go stale, every second)
    expect(sends.length).toBeLessThanOrEqual(10 * (20 + 2) + 2);
    expect(sends.length).toBeGreaterThanOrEqual(200);
    expect((batcher as unknown as { awaiting: Map<number, number> }).awaiting.size).toBeLessThan(
      30,
    );
  });

  it("entries pushed in one task go in one send", () => {
    const sends: string[][] = [];
    const batcher = new Batcher<string>((batch) => sends.push(batch));
    for (const type of ["response.created", "output_item.added", "arguments.delta"]) {
      batcher.push(type);
    }
    expect(sends).toEqual([]);
    batcher.push("arguments.done", true); // urgent: at once, with what waits for the next task
    expect(sends).toEqual([
      ["response.created", "output_item.added", "arguments.delta", "arguments.done"],
    ]);
    batcher.push("item.done");
    batcher.push("response.done");
    vi.advanceTimersByTime(0);
    expect(sends).toHaveLength(2);
    expect(sends[1]).toEqual(["item.done", "response.done"]);
  });

  it("an urgent entry goes at once with everything before it, whatever awaits", () => {
    const sends: string[][] = [];
    const batcher = new Batcher<string>((batch) => sends.push(batch), { window: 1 });
    batcher.push("output_item.added");
    vi.advanceTimersByTime(0);
    batcher.push("arguments.delta");
    batcher.push("arguments.done", true);
    expect(sends).toEqual([["output_item.added"], ["arguments.delta", "arguments.done"]]);
    batcher.push("item.done");
    vi.advanceTimersByTime(50);
    expect(sends.flat()).toEqual([
      "output_item.added",
      "arguments.delta",
      "arguments.done",
      "item.done",
    ]);
  });

  it("flush() sends what is pending at once and leaves no timer", () => {
    const sends: string[][] = [];
    const batcher = new Batcher<string>((batch) => sends.push(batch), { window: 1 });
    batcher.push("x");
    vi.advanceTimersByTime(0);
    batcher.push("y");
    expect(vi.getTimerCount()).toBe(1);
    batcher.flush();
    expect(sends).toEqual([["x"], ["y"]]);
    expect(vi.getTimerCount()).toBe(0);
    batcher.flush();
    vi.advanceTimersByTime(1000);
    expect(sends).toEqual([["x"], ["y"]]);
  });

  it("a burst with acks goes in batches as the kernel handles them, complete and ordered", () => {
    const sends: number[][] = [];
    const acks: (() => void)[] = [];
    const batcher = new Batcher<number>((batch, acked) => {
      sends.push(batch);
      acks.push(acked);
    });
    for (let i = 0; i < 1000; i++) {
      batcher.push(i);
      if (i % 50 === 49) acks.at(-1)?.(); // the kernel answers now and then
    }
    vi.runAllTimers();
    expect(sends.flat()).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(Math.max(...sends.map((b) => b.length))).toBeLessThanOrEqual(200);
  });
});
