// A call never outlives its control: the last view going away, the kernel going away.

import { afterEach, describe, expect, it, vi } from "vitest";
import { KERNEL_GONE, NO_VIEW } from "../session";
import type { FakePeer } from "./fakes";
import { answerOffer, fakeSession } from "./fakes";

function live() {
  return fakeSession({}, { lastViewGraceMs: 1000 });
}

async function connect(h: ReturnType<typeof live>): Promise<FakePeer> {
  const done = h.session.connect();
  await answerOffer(h, 0, { call_id: "rtc_1" });
  await done;
  const peer = h.peers.at(-1) as FakePeer;
  peer.open();
  peer.receive({ type: "session.created" });
  expect(h.model.attrs.status).toBe("connected");
  return peer;
}

afterEach(() => vi.useRealTimers());

describe("a call without a view", () => {
  it("hangs up after the grace when the last view goes, and says why", async () => {
    const h = live();
    h.session.viewAdded();
    const peer = await connect(h);
    vi.useFakeTimers();
    h.session.viewRemoved();
    vi.advanceTimersByTime(999);
    expect(peer.closed).toBe(false);
    vi.advanceTimersByTime(1);
    expect(peer.closed).toBe(true);
    expect(h.model.attrs.status).toBe("closed");
    expect(h.model.attrs.error).toEqual(NO_VIEW);
    expect(h.model.attrs.call_id).toBe("");
  });

  it("keeps the call when a view comes back within the grace (re-rendered output)", async () => {
    const h = live();
    h.session.viewAdded();
    const peer = await connect(h);
    vi.useFakeTimers();
    h.session.viewRemoved();
    vi.advanceTimersByTime(500);
    h.session.viewAdded();
    vi.advanceTimersByTime(5000);
    expect(peer.closed).toBe(false);
    expect(h.model.attrs.status).toBe("connected");
  });

  it("keeps the call while another view still shows it", async () => {
    const h = live();
    h.session.viewAdded();
    h.session.viewAdded();
    const peer = await connect(h);
    vi.useFakeTimers();
    h.session.viewRemoved();
    vi.advanceTimersByTime(5000);
    expect(peer.closed).toBe(false);
  });

  it("does nothing when no call is live, and never counts below zero", () => {
    const h = live();
    vi.useFakeTimers();
    h.session.viewRemoved();
    h.session.viewRemoved();
    vi.advanceTimersByTime(5000);
    expect(h.model.attrs.status).toBe("idle");
    expect(h.model.attrs.error).toBeNull();
  });
});

describe("the kernel going away", () => {
  it("hangs up at once when the comm dies (kernel restart) and shows the reason", async () => {
    const h = live();
    h.session.viewAdded();
    const peer = await connect(h);
    h.model.emit("comm_live_update");
    expect(peer.closed).toBe(true);
    expect(h.model.attrs.status).toBe("closed");
    expect(h.model.attrs.error).toEqual(KERNEL_GONE);
  });

  it("leaves an idle widget alone, and the listener goes with dispose", () => {
    const h = live();
    h.model.emit("comm_live_update");
    expect(h.model.attrs.status).toBe("idle");
    h.session.dispose();
    expect(h.model.listenerCount()).toBe(0);
  });
});
