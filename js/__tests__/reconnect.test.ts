// The reconnect state machine of a session: bounded backoff, markers for the kernel, the
// kernel's replay into the new call before anything held, cancellable, rollover at expiry.

import { afterEach, describe, expect, it, vi } from "vitest";
import { now } from "../clock";
import type { EventEntry } from "../generated/protocol";
import { backoffMs, MAX_QUEUED, RECONNECTED, RECONNECTING, ROLLOVER_REASON } from "../session";
import type { FakePeer, FakeSession } from "./fakes";
import { answerOffer, fakeSession } from "./fakes";

type H = FakeSession;

/** Answer the n-th offer as the kernel relay would, then start the session on the channel. */
async function answer(h: H, n: number, session: Record<string, unknown> = {}): Promise<FakePeer> {
  await answerOffer(h, n);
  await vi.waitFor(() => expect(h.peers.length).toBe(n + 1));
  const peer = h.peers[n] as FakePeer;
  await vi.waitFor(() => expect(h.model.attrs.call_id).toBe(`rtc_${n}`));
  peer.open();
  peer.receive({ type: "session.created", session });
  return peer;
}

function entries(h: H): EventEntry[] {
  return h.model.sentOfKind("events").flatMap((m) => m.batch as EventEntry[]);
}
function markers(h: H, type: string): Record<string, unknown>[] {
  return entries(h)
    .filter((e) => e.event.type === type)
    .map((e) => e.event);
}

afterEach(() => vi.useRealTimers());

describe("reconnect", () => {
  it("backs off 250 ms doubling, capped at 4 s", () => {
    expect([1, 2, 3, 4, 5, 6, 9].map(backoffMs)).toEqual([250, 500, 1000, 2000, 4000, 4000, 4000]);
  });

  it("replaces a call whose channel closed, and tells the kernel in order", async () => {
    const h = fakeSession();
    void h.session.connect();
    const first = await answer(h, 0);
    expect(h.model.attrs.status).toBe("connected");
    first.options.onChannelClose();
    expect(first.closed).toBe(true);
    expect(h.model.attrs.status).toBe("reconnecting");
    expect(h.session.reconnecting).toEqual({
      attempt: 1,
      of: 3,
      reason: "the data channel closed",
    });
    const second = await answer(h, 1);
    expect(h.model.attrs.status).toBe("connected");
    expect(h.model.attrs.call_id).toBe("rtc_1");
    expect(h.session.reconnecting).toBeNull();
    expect(h.session.continued).toMatchObject({
      rollover: false,
      reason: "the data channel closed",
    });
    // the kernel is told in the next task
    await vi.waitFor(() => expect(markers(h, RECONNECTED)).toHaveLength(1));
    expect(markers(h, RECONNECTING)).toEqual([
      {
        type: RECONNECTING,
        attempt: 1,
        of: 3,
        reason: "the data channel closed",
        call_id: "rtc_0",
      },
    ]);
    expect(markers(h, RECONNECTED)).toEqual([
      {
        type: RECONNECTED,
        attempt: 1,
        reason: "the data channel closed",
        rollover: false,
        call_id: "rtc_1",
        previous_call_id: "rtc_0",
      },
    ]);
    // the marker comes after the new call's session.created
    const types = entries(h).map((e) => e.event.type);
    expect(types.lastIndexOf("session.created")).toBeLessThan(types.indexOf(RECONNECTED));
    expect(second.closed).toBe(false);
  });

  it("sends the kernel's replay first, then what the kernel sent meanwhile, each once", async () => {
    const h = fakeSession();
    void h.session.connect();
    const first = await answer(h, 0);
    first.options.onIceState("failed");
    const output = {
      type: "conversation.item.create",
      item: { type: "function_call_output", call_id: "call_1", output: "42" },
    };
    h.model.kernel({ kind: "send", event: output }); // a tool finished during the gap
    h.model.kernel({ kind: "send", event: { type: "response.create" } });
    const second = await answer(h, 1);
    expect(second.wire).toEqual([]); // held until the replay
    const history = {
      type: "conversation.item.create",
      item: {
        id: "rtnb_replay_1",
        type: "function_call",
        call_id: "call_1",
        name: "f",
        arguments: "{}",
      },
    };
    h.model.kernel({ kind: "replay", events: [history] });
    expect(second.wire).toEqual([history, output, { type: "response.create" }]);
    expect(first.wire.filter((e) => e.type === "conversation.item.create")).toEqual([]);
    // a second replay (stale) changes nothing; later sends go straight out
    h.model.kernel({ kind: "replay", events: [history] });
    h.model.kernel({ kind: "send", event: { type: "response.cancel" } });
    expect(second.wire).toHaveLength(4);
    // the replayed item's echo is not a new transcript turn
    second.receive({
      type: "conversation.item.added",
      item: {
        id: "rtnb_replay_1",
        type: "message",
        role: "user",
        content: [{ type: "input_text", text: "old" }],
      },
    });
    expect(h.session.transcript.turns).toHaveLength(0);
  });

  it("goes to the next attempt when a new call fails, and gives up after the last", async () => {
    const h = fakeSession({ continuity: { attempts: 2 } }, { sessionTimeoutMs: 1000 });
    void h.session.connect();
    const first = await answer(h, 0);
    vi.useFakeTimers();
    first.options.onChannelClose();
    vi.advanceTimersByTime(backoffMs(1));
    await vi.waitFor(() => expect(h.model.sentOfKind("offer")).toHaveLength(2));
    h.model.kernel({
      kind: "answer",
      id: h.model.sentOfKind("offer")[1]?.id,
      error: { code: "boom", message: "no", status: 500 },
    });
    await vi.waitFor(() => expect(h.session.reconnecting?.attempt).toBe(2));
    expect(h.model.attrs.status).toBe("reconnecting");
    vi.advanceTimersByTime(backoffMs(2));
    await answerOffer(h, 2, { sdp: "v=0\r\nx" });
    await vi.waitFor(() => expect(h.model.attrs.call_id).toBe("rtc_2"));
    expect(h.peers).toHaveLength(3); // one per attempt
    vi.advanceTimersByTime(1000); // no session.created on the last attempt
    expect(h.model.attrs.status).toBe("error");
    expect(h.model.attrs.error?.message).toContain("after 2 attempts");
    expect(h.peers.every((p) => p.closed)).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("bounds what waits for the new call, drops the oldest and says so", async () => {
    const h = fakeSession();
    void h.session.connect();
    const first = await answer(h, 0);
    first.options.onChannelClose();
    for (let i = 0; i <= MAX_QUEUED; i++) {
      h.model.kernel({
        kind: "send",
        event: { type: "input_audio_buffer.append", audio: String(i) },
      });
    }
    expect(h.model.attrs.error?.code).toBe("events_dropped");
    const second = await answer(h, 1);
    h.model.kernel({ kind: "replay", events: [] });
    expect(second.wire).toHaveLength(MAX_QUEUED);
    expect(second.wire[0]).toEqual({ type: "input_audio_buffer.append", audio: "1" });
  });

  it("is cancelled by Disconnect while waiting, and no new call is made", async () => {
    const h = fakeSession();
    void h.session.connect();
    const first = await answer(h, 0);
    vi.useFakeTimers();
    first.options.onChannelClose();
    h.session.disconnect();
    vi.advanceTimersByTime(10_000);
    expect(h.model.attrs.status).toBe("closed");
    expect(h.model.sentOfKind("offer")).toHaveLength(1);
    expect(h.session.reconnecting).toBeNull();
  });

  it("keeps the transcript across the new call", async () => {
    const h = fakeSession();
    void h.session.connect();
    const first = await answer(h, 0);
    first.receive({
      type: "conversation.item.added",
      item: {
        id: "u1",
        type: "message",
        role: "user",
        content: [{ type: "input_text", text: "hi" }],
      },
    });
    first.options.onChannelClose();
    await answer(h, 1);
    expect(h.session.transcript.turns.map((t) => t.id)).toEqual(["u1"]);
  });
});

describe("rollover", () => {
  it("opens the new call before it hangs up the old one (make-before-break)", async () => {
    const h = fakeSession();
    void h.session.connect();
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const expiresAt = (now() + 200_000) / 1000;
    const first = await answer(h, 0, { expires_at: expiresAt });
    vi.advanceTimersByTime(169_000);
    expect(h.model.sentOfKind("offer").length).toBe(1);
    vi.advanceTimersByTime(1_000); // 30 s before it expires
    vi.useRealTimers();
    // the new call is offered while the old one stays up, with the old one's microphone
    await vi.waitFor(() => expect(h.model.sentOfKind("offer").length).toBe(2));
    expect(first.closed).toBe(false);
    expect(h.session.status).toBe("connected");
    expect(markers(h, RECONNECTING)[0]).toMatchObject({
      make_before_break: true,
      call_id: "rtc_0",
    });
    await answerOffer(h, 1, { sdp: "v=0\r\nb" });
    await vi.waitFor(() => expect(h.peers.length).toBe(2));
    const second = h.peers[1] as FakePeer;
    await vi.waitFor(() => expect(second.accepted.length).toBe(1));
    await Promise.resolve();
    // kernel events wait for the replay; the old call still speaks until the switch
    h.model.kernel({ kind: "send", event: { type: "response.create" } });
    first.receive({ type: "response.output_audio_transcript.delta", delta: "old-before" });
    expect(first.wire.some((e) => e.type === "response.create")).toBe(false);
    second.open();
    second.receive({ type: "session.created", session: {} });
    // switched: the old call is closed only now, and its late events are dropped
    expect(first.closed).toBe(true);
    first.receive({ type: "response.output_audio_transcript.delta", delta: "old-after" });
    expect(h.model.attrs.call_id).toBe("rtc_1");
    await vi.waitFor(() => expect(markers(h, RECONNECTED)).toHaveLength(1));
    const types = entries(h).map((e) => `${e.event.type} ${e.event.delta ?? ""}`);
    const created = types.lastIndexOf("session.created ");
    expect(created).toBeLessThan(types.indexOf(`${RECONNECTED} `));
    const deltas = "response.output_audio_transcript.delta";
    expect(types.indexOf(`${deltas} old-before`)).toBeGreaterThan(-1);
    expect(types.indexOf(`${deltas} old-before`)).toBeLessThan(created);
    expect(types).not.toContain(`${deltas} old-after`);
    const marker = markers(h, RECONNECTED)[0] ?? {};
    expect(marker).toMatchObject({
      rollover: true,
      make_before_break: true,
      previous_call_id: "rtc_0",
    });
    expect(marker.previous_closed_at as number).toBeGreaterThanOrEqual(marker.opened_at as number);
    // the replay goes into the new call first, then what waited
    h.model.kernel({
      kind: "replay",
      events: [{ type: "conversation.item.create", item: { id: "i1" } }],
    });
    expect(second.wire.map((e) => e.type)).toEqual(["conversation.item.create", "response.create"]);
    expect(h.session.continued).toMatchObject({ rollover: true, reason: ROLLOVER_REASON });
  });

  it("falls back to a new call after the old one when the new call does not start", async () => {
    const h = fakeSession({}, { sessionTimeoutMs: 50 });
    void h.session.connect();
    const first = await answer(h, 0, { expires_at: (now() + 1_000) / 1000 });
    await vi.waitFor(() => expect(h.model.sentOfKind("offer").length).toBe(2));
    await answerOffer(h, 1, { sdp: "v=0\r\nb" });
    // no session.created on the new call: it is closed, the old one is replaced after it
    await vi.waitFor(() => expect(h.peers[1]?.closed).toBe(true));
    expect(first.closed).toBe(true);
    expect(h.session.status).toBe("reconnecting");
    await vi.waitFor(() => expect(h.model.sentOfKind("offer").length).toBe(3));
  });

  it("rolls a short session over with a fifth of it left", async () => {
    const h = fakeSession();
    void h.session.connect();
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const first = await answer(h, 0, { expires_at: (now() + 10_000) / 1000 });
    vi.advanceTimersByTime(7_900);
    expect(markers(h, RECONNECTING)).toEqual([]);
    vi.advanceTimersByTime(200);
    expect(markers(h, RECONNECTING).length).toBe(1);
    vi.useRealTimers();
    await vi.waitFor(() => expect(h.model.sentOfKind("offer").length).toBe(2));
    expect(first.closed).toBe(false);
  });

  it("waits for a reply in progress, then rolls over", async () => {
    const h = fakeSession();
    void h.session.connect();
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const first = await answer(h, 0, { expires_at: (now() + 10_000) / 1000 });
    first.receive({ type: "response.created", response: { id: "r1" } });
    vi.advanceTimersByTime(8_100);
    expect(markers(h, RECONNECTING)).toEqual([]);
    first.receive({ type: "response.done", response: { id: "r1" } });
    vi.advanceTimersByTime(0); // the kernel is told in the next task
    expect(markers(h, RECONNECTING).length).toBe(1);
  });

  it("does not roll over when continuity.rollover is off", async () => {
    const h = fakeSession({ continuity: { attempts: 3, rollover: false } });
    void h.session.connect();
    vi.useFakeTimers();
    const first = await answer(h, 0, { expires_at: Math.floor(Date.now() / 1000) + 10 });
    vi.advanceTimersByTime(60_000);
    expect(first.closed).toBe(false);
  });
});
