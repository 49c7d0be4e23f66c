import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { keepConnectionReady, REFILL_MS, takeConnection } from "../spare";

/** Enough of RTCPeerConnection to be made ahead of a call: each instance is kept. */
class FakeConnection {
  static made: FakeConnection[] = [];
  closed = false;
  constructor() {
    FakeConnection.made.push(this);
  }
  addTransceiver() {
    return { sender: {} };
  }
  createDataChannel() {
    return {};
  }
  createOffer() {
    return Promise.resolve({ type: "offer", sdp: "v=0" });
  }
  close() {
    this.closed = true;
  }
}

describe("the spare connection", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeConnection.made = [];
    vi.stubGlobal("RTCPeerConnection", FakeConnection);
    vi.stubGlobal("MediaStream", class {});
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("is made once the page is idle, one for every session, closed with the last", () => {
    const first = keepConnectionReady();
    expect(FakeConnection.made).toHaveLength(0); // not while the view is being made
    vi.advanceTimersByTime(5000);
    expect(FakeConnection.made).toHaveLength(1);
    const second = keepConnectionReady();
    second.refill();
    vi.advanceTimersByTime(5000);
    expect(FakeConnection.made).toHaveLength(1); // one spare for the page
    first.release();
    first.release(); // twice is once
    expect(FakeConnection.made[0]?.closed).toBe(false);
    second.release();
    expect(FakeConnection.made[0]?.closed).toBe(true);
  });

  it("after a call, the next one is made within REFILL_MS, idle or not", () => {
    // a page that is never idle: only the deadline runs the callback
    vi.stubGlobal("requestIdleCallback", (fn: () => void, options: { timeout: number }) =>
      setTimeout(fn, options.timeout),
    );
    vi.stubGlobal("cancelIdleCallback", (id: number) => clearTimeout(id));
    const only = keepConnectionReady();
    vi.advanceTimersByTime(5000);
    expect(takeConnection().pc).toBe(FakeConnection.made[0]); // a call takes it
    only.refill(); // and ends
    vi.advanceTimersByTime(REFILL_MS - 1);
    expect(FakeConnection.made).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(FakeConnection.made).toHaveLength(2);
    only.release();
  });

  it("is not made once its session is gone", () => {
    const only = keepConnectionReady();
    only.release();
    vi.advanceTimersByTime(5000);
    only.refill();
    vi.advanceTimersByTime(5000);
    expect(FakeConnection.made).toHaveLength(0);
  });
});
