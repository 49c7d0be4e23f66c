import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Batcher } from "../batcher";

describe("Batcher", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("delivers a 5,000-event burst complete, in order, in 26 sends", () => {
    const sends: number[][] = [];
    const batcher = new Batcher<number>((batch) => sends.push(batch));
    for (let i = 0; i < 5000; i++) batcher.push(i);
    vi.runAllTimers();
    // the first event goes at once, then full batches of 200, then the remainder
    expect(sends.map((b) => b.length)).toEqual([1, ...Array(24).fill(200), 199]);
    expect(sends.flat()).toEqual(Array.from({ length: 5000 }, (_, i) => i));
  });

  it("sends the first entry after a quiet spell at once", () => {
    const sends: string[][] = [];
    const batcher = new Batcher<string>((batch) => sends.push(batch));
    batcher.push("session.created");
    expect(sends).toEqual([["session.created"]]);
    vi.advanceTimersByTime(1000); // the window closes with nothing pending: idle again
    batcher.push("function_call_arguments.done");
    expect(sends).toEqual([["session.created"], ["function_call_arguments.done"]]);
  });

  it("groups what arrives within 50 ms of a send, with one timer", () => {
    const sends: string[][] = [];
    const batcher = new Batcher<string>((batch) => sends.push(batch));
    batcher.push("a");
    vi.advanceTimersByTime(30);
    batcher.push("b");
    batcher.push("c");
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(19);
    expect(sends).toEqual([["a"]]);
    vi.advanceTimersByTime(1);
    expect(sends).toEqual([["a"], ["b", "c"]]);
    batcher.push("d"); // the window reopened after that send: d waits for its end
    expect(sends).toHaveLength(2);
    vi.advanceTimersByTime(50);
    expect(sends).toEqual([["a"], ["b", "c"], ["d"]]);
  });

  it("a steady stream goes out every 50 ms, in order", () => {
    const sends: number[][] = [];
    const batcher = new Batcher<number>((batch) => sends.push(batch));
    for (let i = 0; i < 100; i++) {
      batcher.push(i);
      vi.advanceTimersByTime(5); // 200 events/s
    }
    vi.runAllTimers();
    expect(sends.flat()).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(sends.length).toBeGreaterThanOrEqual(10);
    expect(sends.length).toBeLessThanOrEqual(12);
  });

  it("an urgent entry goes at once with everything before it", () => {
    const sends: string[][] = [];
    const batcher = new Batcher<string>((batch) => sends.push(batch));
    batcher.push("output_item.added");
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
    const batcher = new Batcher<string>((batch) => sends.push(batch));
    batcher.push("x");
    batcher.push("y");
    batcher.flush();
    expect(sends).toEqual([["x"], ["y"]]);
    expect(vi.getTimerCount()).toBe(0);
    batcher.flush();
    vi.advanceTimersByTime(1000);
    expect(sends).toEqual([["x"], ["y"]]);
  });

  it("an ack closes the grouping window at once: nothing waits for the timer", () => {
    const sends: string[][] = [];
    const acks: (() => void)[] = [];
    const batcher = new Batcher<string>((batch, acked) => {
      sends.push(batch);
      acks.push(acked);
    });
    batcher.push("a");
    batcher.push("b"); // grouped while "a" is with the kernel
    expect(sends).toEqual([["a"]]);
    acks[0]?.();
    expect(sends).toEqual([["a"], ["b"]]); // at the ack, not 50 ms later
    acks[1]?.();
    expect(vi.getTimerCount()).toBe(0); // idle: the next entry goes at once
    batcher.push("c");
    expect(sends).toEqual([["a"], ["b"], ["c"]]);
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

  it("an ack of an older send does not close the window of a newer one", () => {
    const sends: string[][] = [];
    const acks: (() => void)[] = [];
    const batcher = new Batcher<string>((batch, acked) => {
      sends.push(batch);
      acks.push(acked);
    });
    batcher.push("a");
    batcher.push("b", true); // a second send while the first is unacknowledged
    batcher.push("c");
    acks[0]?.();
    expect(sends).toEqual([["a"], ["b"]]);
    acks[1]?.();
    expect(sends).toEqual([["a"], ["b"], ["c"]]);
  });
});
