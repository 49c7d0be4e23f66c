import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Status } from "../generated/protocol";
import type { ConnectionEvent } from "../state";
import { ConnectionMachine, transition } from "../state";

const ev = (type: ConnectionEvent["type"]) => ({ type }) as ConnectionEvent;

describe("transition", () => {
  it("goes idle → connecting → connected only on session.created", () => {
    expect(transition("idle", ev("connect"))).toBe("connecting");
    // ICE coming up is not enough: the session must have started on the data channel.
    expect(transition("connecting", ev("ice_recovered"))).toBeUndefined();
    expect(transition("connecting", ev("session_created"))).toBe("connected");
  });

  it("can start again from closed and error, but not while a call is live", () => {
    expect(transition("closed", ev("connect"))).toBe("connecting");
    expect(transition("error", ev("connect"))).toBe("connecting");
    for (const s of ["connecting", "connected", "interrupted"] as Status[]) {
      expect(transition(s, ev("connect"))).toBeUndefined();
    }
  });

  it("interrupts on ICE loss and comes back on recovery", () => {
    expect(transition("connected", ev("ice_disconnected"))).toBe("interrupted");
    expect(transition("interrupted", ev("ice_recovered"))).toBe("connected");
    expect(transition("interrupted", ev("grace_expired"))).toBe("reconnecting");
  });

  it("replaces a lost call: reconnecting until a new session starts, one attempt after another", () => {
    expect(transition("connected", ev("lost"))).toBe("reconnecting");
    expect(transition("interrupted", ev("lost"))).toBe("reconnecting");
    expect(transition("reconnecting", ev("lost"))).toBe("reconnecting");
    expect(transition("reconnecting", ev("session_created"))).toBe("connected");
    expect(transition("reconnecting", ev("connect"))).toBeUndefined();
    expect(transition("connecting", ev("lost"))).toBeUndefined(); // a first call just fails
  });

  it("closes or fails from every live state, and nothing happens in idle", () => {
    for (const s of ["connecting", "connected", "interrupted", "reconnecting"] as Status[]) {
      expect(transition(s, ev("close"))).toBe("closed");
      expect(transition(s, ev("fail"))).toBe("error");
    }
    expect(transition("idle", ev("close"))).toBeUndefined();
    expect(transition("idle", ev("session_created"))).toBeUndefined();
  });
});

describe("ConnectionMachine", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function machine() {
    const changes: [Status, Status][] = [];
    const ignored: string[] = [];
    const m = new ConnectionMachine({
      graceMs: 5000,
      onChange: (next, previous) => changes.push([previous, next]),
      onIgnored: (state, event) => ignored.push(`${state}:${event.type}`),
    });
    return { m, changes, ignored };
  }

  it("reports and ignores illegal events without throwing", () => {
    const { m, changes, ignored } = machine();
    expect(m.dispatch(ev("session_created"))).toBe(false);
    expect(m.dispatch(ev("grace_expired"))).toBe(false);
    expect(m.state).toBe("idle");
    expect(changes).toEqual([]);
    expect(ignored).toEqual(["idle:session_created", "idle:grace_expired"]);
  });

  it("returns to connected when ICE recovers within the grace period", () => {
    const { m, changes } = machine();
    m.dispatch(ev("connect"));
    m.dispatch(ev("session_created"));
    m.dispatch(ev("ice_disconnected"));
    vi.advanceTimersByTime(4999);
    expect(m.state).toBe("interrupted");
    m.dispatch(ev("ice_recovered"));
    vi.advanceTimersByTime(10_000); // the grace timer was cancelled
    expect(m.state).toBe("connected");
    expect(changes.map(([, next]) => next)).toEqual([
      "connecting",
      "connected",
      "interrupted",
      "connected",
    ]);
  });

  it("moves on to reconnecting when the grace period runs out", () => {
    const { m, changes } = machine();
    m.dispatch(ev("connect"));
    m.dispatch(ev("session_created"));
    m.dispatch(ev("ice_disconnected"));
    vi.advanceTimersByTime(5000);
    expect(m.state).toBe("reconnecting");
    expect(changes.at(-1)).toEqual(["interrupted", "reconnecting"]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("cancels the grace timer on close", () => {
    const { m } = machine();
    m.dispatch(ev("connect"));
    m.dispatch(ev("session_created"));
    m.dispatch(ev("ice_disconnected"));
    m.dispatch(ev("close"));
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(6000);
    expect(m.state).toBe("closed");
  });
});
