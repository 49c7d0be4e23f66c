import { afterEach, describe, expect, it, vi } from "vitest";
import type { EventEntry, WidgetModel } from "../generated/protocol";
import type { PeerOptions } from "../peer";
import type { SessionDeps } from "../session";
import { LIVE_CLOSE_MS, SYNC_HOLD_MS } from "../session";
import { ExtensionClient } from "../signaling";
import type { FakeSession } from "./fakes";
import { answerOffer, FakePeer, fakeSession, routedFetch, STATUS_LOCAL } from "./fakes";

function harness(
  attrs: Partial<WidgetModel> = {},
  overrides: Partial<SessionDeps> = {},
  routes: Parameters<typeof routedFetch>[0] = {},
): FakeSession {
  return fakeSession(attrs, {
    client: new ExtensionClient("/", routedFetch(routes)),
    ...overrides,
  });
}

/** Connect through the kernel relay and answer the offer like the kernel would. */
async function connectViaKernel(h: FakeSession, answer: Record<string, unknown> = {}) {
  const done = h.session.connect();
  const offer = await answerOffer(h, 0, { call_id: "rtc_abc", ...answer });
  await done;
  return offer;
}

afterEach(() => vi.useRealTimers());

describe("Session recordings", () => {
  it("sends each recorded chunk as an `audio` message with its PCM as the one buffer", async () => {
    const h = harness({ record_audio: true });
    await connectViaKernel(h);
    const pcm = new Int16Array([1, -2, 3]);
    h.peer().options.onAudio?.("mic", pcm, 1234.5);
    const index = h.model.sent.findIndex((m) => m.kind === "audio");
    expect(h.model.sent[index]).toEqual({ kind: "audio", track: "mic", t: 1234.5 });
    expect(h.model.buffers[index]).toEqual([pcm]);
  });

  it("records nothing with record_audio off, or for a call that has ended", async () => {
    const off = harness({ record_audio: false });
    await connectViaKernel(off);
    expect(off.peer().options.onAudio).toBeUndefined();
    const h = harness({ record_audio: true });
    await connectViaKernel(h);
    const onAudio = h.peer().options.onAudio;
    h.session.disconnect();
    onAudio?.("assistant", new Int16Array([1]), 1);
    expect(h.model.sentOfKind("audio")).toEqual([]);
  });
});

describe("Session over kernel signaling", () => {
  it("is connected only after session.created, and writes status, backend and call_id", async () => {
    const h = harness({ session_config: { type: "realtime", instructions: "hi" } });
    const offer = await connectViaKernel(h);
    expect(offer).toMatchObject({ sdp: "v=0\r\noffer\r\n", session: { instructions: "hi" } });
    expect(h.peer().accepted).toEqual(["v=0\r\nanswer"]);
    expect(h.model.attrs).toMatchObject({
      status: "connecting",
      backend: "local",
      call_id: "rtc_abc",
    });
    h.peer().open();
    h.peer().options.onIceState("connected");
    h.peer().receive({ type: "rate_limits.updated", event_id: "e0", rate_limits: [] });
    expect(h.model.attrs.status).toBe("connecting");
    h.peer().receive({ type: "session.created", event_id: "e1", session: {} });
    expect(h.model.attrs.status).toBe("connected");
    expect(h.model.statuses).toEqual(["connecting", "connected"]);
    expect(h.model.saves).toBeGreaterThan(0);
  });

  it("runs a GPT-Live session: gathered ICE, connected at session.started, typed turns", async () => {
    const h = harness({ protocol: "live", session_config: { model: "gpt-live-1" } });
    const offer = await connectViaKernel(h, { call_id: "live_1" });
    expect(offer).toMatchObject({ session: { model: "gpt-live-1" } });
    expect(h.peer().options.gatherIce).toBe(true);
    h.peer().open();
    h.model.kernel({ kind: "send", event: { type: "session.input_audio.mute" } });
    expect(h.peer().wire).toEqual([]); // Live takes nothing before session.started
    h.peer().receive({ type: "session.started", event_id: "e1", session: { id: "live_1" } });
    expect(h.peer().wire.map((e) => e.type)).toEqual(["session.input_audio.mute"]);
    expect(h.model.attrs).toMatchObject({ status: "connected", call_id: "live_1" });
    h.model.kernel({
      kind: "send",
      event: { type: "session.commentary.append", content: "Hi", delegation_id: null },
    });
    h.peer().receive({ type: "session.output_transcript.delta", delta: "Hello", start_ms: 0 });
    expect(h.session.transcript.turns.map((t) => [t.role, t.text, t.final])).toEqual([
      ["user", "Hi", true],
      ["assistant", "Hello", false],
    ]);
  });

  it("ends a GPT-Live call with session.close and waits for session.closed", async () => {
    const h = harness({ protocol: "live", session_config: { model: "gpt-live-1" } });
    await connectViaKernel(h, { call_id: "live_1" });
    h.peer().open();
    h.peer().receive({ type: "session.started", session: { id: "live_1" } });
    h.session.disconnect();
    expect(h.peer().wire.map((e) => e.type)).toEqual(["session.close"]);
    expect(h.peer().closed).toBe(false); // draining: its final usage is still to come
    h.peer().receive({ type: "session.closed", reason: "close_requested", usage: { seconds: 3 } });
    await vi.waitFor(() => expect(h.peer().closed).toBe(true));
    expect(h.model.attrs.status).toBe("closed");
    const types = () =>
      h.model
        .sentOfKind("events")
        .flatMap((m) => (m.batch as EventEntry[]).map((e) => e.event.type));
    await vi.waitFor(() => expect(types()).toContain("session.closed")); // the kernel has it
  });

  it("closes a GPT-Live call that never confirms after a short wait", async () => {
    const h = harness({ protocol: "live", session_config: { model: "gpt-live-1" } });
    await connectViaKernel(h, { call_id: "live_1" });
    h.peer().open();
    h.peer().receive({ type: "session.started", session: { id: "live_1" } });
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    h.session.disconnect();
    expect(h.peer().closed).toBe(false);
    vi.advanceTimersByTime(LIVE_CLOSE_MS);
    expect(h.peer().closed).toBe(true);
    expect(h.model.attrs.status).toBe("closed");
  });

  it("does not wait for ICE gathering in a Realtime session", async () => {
    const h = harness();
    await connectViaKernel(h);
    expect(h.peer().options.gatherIce).toBe(false);
  });

  it("forwards every channel event to the kernel in order, batched", async () => {
    const h = harness();
    await connectViaKernel(h);
    h.peer().open();
    h.peer().receive({ type: "session.created" });
    h.model.kernel({ kind: "send", event: { type: "response.create" } });
    for (let i = 0; i < 3; i++) {
      h.peer().receive({ type: "response.output_text.delta", item_id: "a", delta: String(i) });
    }
    const entries = (): EventEntry[] =>
      h.model.sentOfKind("events").flatMap((m) => m.batch as EventEntry[]);
    await vi.waitFor(() => expect(entries()).toHaveLength(5));
    // session.created goes at once; what follows in the same task, in one message after it
    expect(h.model.sentOfKind("events").map((m) => (m.batch as EventEntry[]).length)).toEqual([
      1, 4,
    ]);
    expect(entries().map((e) => [e.dir, e.event.type])).toEqual([
      ["server", "session.created"],
      ["client", "response.create"],
      ["server", "response.output_text.delta"],
      ["server", "response.output_text.delta"],
      ["server", "response.output_text.delta"],
    ]);
    expect(h.session.transcript.turns).toMatchObject([
      { id: "a", role: "assistant", text: "012", final: false },
    ]);
  });

  it("shows an error answer with its fix and never accepts it", async () => {
    const h = harness();
    const done = h.session.connect();
    await vi.waitFor(() => expect(h.model.sentOfKind("offer")).toHaveLength(1));
    h.model.kernel({
      kind: "answer",
      id: h.model.sentOfKind("offer")[0]?.id,
      error: { status: 400, code: "invalid_session", message: "bad voice", param: "session.voice" },
    });
    await done;
    expect(h.peer().accepted).toEqual([]);
    expect(h.peer().closed).toBe(true);
    expect(h.model.attrs.status).toBe("error");
    expect(h.model.attrs.error).toMatchObject({
      code: "invalid_session",
      message: "bad voice (session.voice)",
    });
    expect(h.model.attrs.error?.fix).toContain("session= field “voice”");
  });

  it("times out when the kernel does not answer", async () => {
    const h = harness({}, { relayTimeoutMs: 1000 });
    vi.useFakeTimers();
    const done = h.session.connect();
    await vi.advanceTimersByTimeAsync(1000);
    await done;
    expect(h.model.attrs.error?.code).toBe("kernel_timeout");
    expect(h.model.attrs.status).toBe("error");
  });
});

describe("Session signaling choice", () => {
  it("uses the server in auto mode when the extension answers", async () => {
    const h = harness(
      { signaling: "auto" },
      {},
      {
        status: [200, STATUS_LOCAL],
        calls: [201, { sdp: "v=0\r\nsrv", call_id: "rtc_s", session: {} }],
      },
    );
    await h.session.connect();
    expect(h.model.sentOfKind("offer")).toEqual([]);
    expect(h.peer().accepted).toEqual(["v=0\r\nsrv"]);
    expect(h.model.attrs).toMatchObject({
      backend: "local",
      call_id: "rtc_s",
      status: "connecting",
    });
  });

  it("falls back to the kernel in auto mode when the extension is missing", async () => {
    const h = harness({ signaling: "auto" });
    await connectViaKernel(h);
    expect(h.peer().accepted).toEqual(["v=0\r\nanswer"]);
  });

  it("reports a missing extension in server mode", async () => {
    const h = harness({ signaling: "server" });
    await h.session.connect();
    expect(h.peers).toEqual([]);
    expect(h.model.attrs.error).toMatchObject({ code: "extension_missing" });
    expect(h.model.attrs.error?.fix).toMatch(/jupyter server extension enable/);
  });
});

describe("Session connect path", () => {
  it("asks for the microphone while the extension's status is on its way (auto)", async () => {
    let answerStatus: (response: Response) => void = () => undefined;
    const pending = new Promise<Response>((resolve) => {
      answerStatus = resolve;
    });
    const fetchStatus = (() => pending) as unknown as typeof fetch;
    const h = harness({}, { client: new ExtensionClient("/", fetchStatus) });
    const done = h.session.connect();
    await vi.waitFor(() => expect(h.peers).toHaveLength(1)); // before the status came back
    answerStatus(new Response("not found", { status: 404 }));
    await vi.waitFor(() => expect(h.model.sentOfKind("offer")).toHaveLength(1));
    expect(h.peers).toHaveLength(1); // the same microphone, not a second one
    h.session.disconnect();
    await done;
  });
});

describe("Session trait syncs during a connect", () => {
  it("reach the kernel once the session starts, not while the call is set up", async () => {
    let answerCall: (response: Response) => void = () => undefined;
    const call = new Promise<Response>((resolve) => {
      answerCall = resolve;
    });
    const fetchImpl = (async (url: string) => {
      if (url.endsWith("status")) return new Response(JSON.stringify(STATUS_LOCAL));
      return call;
    }) as unknown as typeof fetch;
    const h = harness({ signaling: "auto" }, { client: new ExtensionClient("/", fetchImpl) });
    const before = h.model.saves;
    const done = h.session.connect();
    await vi.waitFor(() => expect(h.peers).toHaveLength(1));
    await new Promise((resolve) => setTimeout(resolve, 20)); // the offer is out
    expect(h.model.attrs.status).toBe("connecting"); // the view sees it at once
    expect(h.model.saves).toBe(before); // the kernel not yet
    answerCall(
      new Response(JSON.stringify({ sdp: "v=0\r\nsrv", call_id: "rtc_s" }), { status: 201 }),
    );
    await done;
    expect(h.model.saves).toBe(before); // the handshake with the peer is under way
    expect(h.model.attrs).toMatchObject({
      status: "connecting",
      route: "server",
      call_id: "rtc_s",
    });
    h.peer().receive({ type: "session.created", event_id: "e1", session: {} });
    expect(h.model.saves).toBe(before + 1); // status, route, backend and call_id at once
    expect(h.model.attrs.status).toBe("connected");
  });

  it("reach it after SYNC_HOLD_MS when the setup is slow (a permission prompt)", async () => {
    vi.useFakeTimers();
    let grant: () => void = () => undefined;
    const granted = new Promise<void>((resolve) => {
      grant = resolve;
    });
    const h = harness(
      { signaling: "kernel" },
      {
        openPeer: async (options: PeerOptions) => {
          await granted;
          const peer = new FakePeer(options);
          h.peers.push(peer);
          return peer;
        },
      },
    );
    const before = h.model.saves;
    const done = h.session.connect();
    await vi.advanceTimersByTimeAsync(SYNC_HOLD_MS - 1);
    expect(h.model.saves).toBe(before);
    await vi.advanceTimersByTimeAsync(1);
    expect(h.model.saves).toBe(before + 1); // "connecting" reached the kernel
    h.session.disconnect();
    grant();
    await vi.runAllTimersAsync();
    await done;
  });
});

describe("Session errors before signaling", () => {
  it("maps a denied microphone", async () => {
    const h = harness(
      {},
      { openPeer: () => Promise.reject(new DOMException("denied", "NotAllowedError")) },
    );
    await h.session.connect();
    expect(h.model.attrs.status).toBe("error");
    expect(h.model.attrs.error).toMatchObject({ code: "mic_denied" });
    expect(h.model.sentOfKind("offer")).toEqual([]);
  });

  it("refuses an insecure page before asking for the microphone", async () => {
    const h = harness({}, { secureContext: () => false });
    await h.session.connect();
    expect(h.peers).toEqual([]);
    expect(h.model.attrs.error).toMatchObject({ code: "insecure_context" });
  });

  it("can connect again after an error, and clears the error", async () => {
    let denied = true;
    const h = harness(
      {},
      {
        openPeer: async (options) => {
          if (denied) throw new DOMException("denied", "NotAllowedError");
          return new FakePeer(options);
        },
      },
    );
    await h.session.connect();
    expect(h.model.attrs.status).toBe("error");
    denied = false;
    const again = h.session.connect();
    expect(h.model.attrs.error).toBeNull();
    expect(h.model.attrs.status).toBe("connecting");
    h.session.disconnect();
    await again;
    expect(h.model.attrs.status).toBe("closed");
  });
});

describe("Session kernel messages", () => {
  it("queues sends until the channel opens, applying the binary rule", async () => {
    const h = harness();
    h.model.kernel(
      {
        kind: "send",
        event: { type: "conversation.item.create", item: { content: [{ type: "input_image" }] } },
        binary: { path: ["item", "content", 0, "image_url"], mime: "image/png" },
      },
      [new DataView(new Uint8Array([1, 2, 3]).buffer)],
    );
    h.model.kernel({ kind: "send", event: { type: "response.create" } });
    h.model.kernel({ kind: "connect" });
    await vi.waitFor(() => expect(h.model.sentOfKind("offer")).toHaveLength(1));
    expect(h.peer().wire).toEqual([]);
    h.peer().open();
    expect(h.peer().wire).toEqual([
      {
        type: "conversation.item.create",
        item: { content: [{ type: "input_image", image_url: "data:image/png;base64,AQID" }] },
      },
      { type: "response.create" },
    ]);
  });

  it("reports a binary send without a buffer", () => {
    const h = harness();
    h.model.kernel({ kind: "send", event: { type: "x" }, binary: { path: ["a"], mime: "m/n" } });
    expect(h.model.attrs.error?.code).toBe("send_failed");
  });

  it("disconnects on request: closed status, peer closed, events flushed, call_id cleared", async () => {
    const h = harness();
    await connectViaKernel(h);
    h.peer().open();
    h.peer().receive({ type: "session.created" });
    h.model.kernel({ kind: "disconnect" });
    expect(h.model.attrs).toMatchObject({ status: "closed", call_id: "" });
    expect(h.peer().closed).toBe(true);
    const entries = h.model.sentOfKind("events").flatMap((m) => m.batch as EventEntry[]);
    expect(entries.map((e) => e.event.type)).toEqual(["session.created"]);
  });

  it("removes every model listener on dispose", () => {
    const h = harness();
    const before = h.model.listenerCount();
    h.session.dispose();
    expect(h.model.listenerCount()).toBe(before - 5);
  });
});

describe("Session push-to-talk and mute", () => {
  async function connected(attrs: Partial<WidgetModel>) {
    const h = harness(attrs);
    await connectViaKernel(h);
    h.peer().open();
    h.peer().receive({ type: "session.created" });
    return h;
  }

  it("interrupts a playing response on press, and commits on release", async () => {
    const h = await connected({ push_to_talk: true });
    expect(h.peer().micEnabled).toBe(false);
    h.peer().receive({ type: "response.created" });
    h.peer().receive({ type: "output_audio_buffer.started" });
    h.session.pttPress();
    expect(h.peer().micEnabled).toBe(true);
    h.session.pttPress(); // a repeat while held does nothing
    h.session.pttRelease();
    expect(h.peer().micEnabled).toBe(false);
    expect(h.peer().wire.map((e) => e.type)).toEqual([
      "response.cancel",
      "output_audio_buffer.clear",
      "input_audio_buffer.clear",
      "input_audio_buffer.commit",
      "response.create",
    ]);
  });

  it("ignores the push-to-talk button when push_to_talk is off", async () => {
    const h = await connected({ push_to_talk: false });
    h.session.pttPress();
    h.session.pttRelease();
    expect(h.peer().wire).toEqual([]);
    expect(h.peer().micEnabled).toBe(true);
  });

  it("mutes the track from the trait, either side", async () => {
    const h = await connected({});
    h.session.setMuted(true);
    expect(h.model.attrs.muted).toBe(true);
    expect(h.peer().micEnabled).toBe(false);
    h.model.set("muted", false); // as if Python wrote it
    expect(h.peer().micEnabled).toBe(true);
  });
});

describe("Session connection loss", () => {
  it("survives a short ICE drop and gives up after the grace period (no reconnects)", async () => {
    const h = harness({ continuity: { attempts: 0 } }, { graceMs: 5000 });
    await connectViaKernel(h);
    h.peer().open();
    h.peer().receive({ type: "session.created" });
    vi.useFakeTimers();
    h.peer().options.onIceState("disconnected");
    expect(h.model.attrs.status).toBe("interrupted");
    h.peer().options.onIceState("connected");
    expect(h.model.attrs.status).toBe("connected");
    h.peer().options.onIceState("disconnected");
    vi.advanceTimersByTime(5000);
    expect(h.model.attrs.status).toBe("error");
    expect(h.model.attrs.error?.code).toBe("connection_lost");
    expect(h.peer().closed).toBe(true);
  });

  it("errors when session.created never arrives", async () => {
    vi.useFakeTimers();
    const h = harness({}, { sessionTimeoutMs: 2000 });
    await connectViaKernel(h);
    vi.advanceTimersByTime(1999);
    expect(h.model.attrs.status).toBe("connecting");
    vi.advanceTimersByTime(1);
    expect(h.model.attrs.error?.code).toBe("session_timeout");
  });
});

describe("Session behind a JupyterHub class service", () => {
  const hubStatus = (usdToday: number) => ({
    ...STATUS_LOCAL,
    backend_setting: "hub",
    budget: { user: "ann", remaining: { usd_today: usdToday, usd_term: 4, minutes_today: 12.5 } },
  });

  it("shows why the service ended the call, and the budget that is left", async () => {
    const h = harness(
      { signaling: "server" },
      {},
      {
        status: [200, hubStatus(0.42)],
        calls: [201, { sdp: "v=0\r\nsrv", call_id: "rtc_h", session: {} }],
        "calls/rtc_h": [
          200,
          {
            call_id: "rtc_h",
            end_code: "budget_exhausted",
            end_message: "Your voice budget for today is used up ($0.50 of $0.5 per day)",
          },
        ],
      },
    );
    const changes: string[] = [];
    h.session.subscribe((change) => changes.push(change));
    await h.session.connect();
    expect(h.session.budget?.remaining?.usd_today).toBe(0.42);
    h.peer().open();
    h.peer().receive({ type: "session.created", event_id: "e1", session: {} });
    h.peer().options.onChannelClose();
    await vi.waitFor(() => expect(h.model.attrs.error?.code).toBe("budget_exhausted"));
    expect(h.model.attrs.error?.message).toContain("budget for today is used up");
    expect(h.model.attrs.error?.fix).toContain("Ask your teacher");
    expect(h.model.attrs.status).toBe("closed");
    await vi.waitFor(() => expect(changes.filter((c) => c === "budget")).toHaveLength(2));
  });

  it("tells the class service when the student disconnects", async () => {
    const calls: string[] = [];
    const model = { signaling: "server" } as const;
    const routes = {
      status: [200, hubStatus(0.42)] as [number, unknown],
      calls: [201, { sdp: "v=0\r\nsrv", call_id: "rtc_d", session: {} }] as [number, unknown],
      "calls/rtc_d/hangup": [200, { call_id: "rtc_d", ended: true }] as [number, unknown],
    };
    const h = harness(model, { client: new ExtensionClient("/", routedFetch(routes, calls)) });
    await h.session.connect();
    h.session.disconnect();
    await vi.waitFor(() => expect(calls).toContain("/api/rt-notebook/calls/rtc_d/hangup"));
    expect(h.model.attrs.error).toBeNull();
  });

  it("says nothing more when a call simply ended", async () => {
    const h = harness(
      { signaling: "server" },
      {},
      {
        status: [200, hubStatus(0.42)],
        calls: [201, { sdp: "v=0\r\nsrv", call_id: "rtc_e", session: {} }],
        "calls/rtc_e": [200, { call_id: "rtc_e", end_code: "ended", end_message: null }],
      },
    );
    await h.session.connect();
    h.peer().open();
    h.peer().receive({ type: "session.created", event_id: "e1", session: {} });
    h.peer().options.onChannelClose();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(h.model.attrs.error).toBeNull();
  });
});

describe("Session downloads and settings", () => {
  it("asks the kernel for a file and resolves with the bytes of its answer", async () => {
    const h = harness();
    const pending = h.session.download("transcript.md");
    const ask = h.model.sentOfKind("download")[0] ?? {};
    expect(ask).toMatchObject({ kind: "download", what: "transcript.md" });
    const bytes = new TextEncoder().encode("# hi");
    h.model.kernel({ kind: "file", id: "other", name: "x", mime: "text/plain" }, [
      new DataView(bytes.buffer),
    ]); // someone else's answer is ignored
    h.model.kernel({ kind: "file", id: ask.id, name: "t.md", mime: "text/markdown" }, [
      new DataView(bytes.buffer),
    ]);
    const file = await pending;
    expect([file.name, file.mime, file.data.byteLength]).toEqual(["t.md", "text/markdown", 4]);
  });

  it("rejects with the kernel's reason, or when the answer has no buffer", async () => {
    const h = harness();
    const refused = h.session.download("mic.wav");
    const first = h.model.sentOfKind("download")[0] ?? {};
    h.model.kernel({ kind: "file", id: first.id, error: { code: "x", message: "Nothing yet" } });
    await expect(refused).rejects.toThrow("Nothing yet");
    const empty = h.session.download("events.jsonl");
    const second = h.model.sentOfKind("download")[1] ?? {};
    h.model.kernel({ kind: "file", id: second.id, name: "e", mime: "application/jsonl" });
    await expect(empty).rejects.toThrow("no file");
  });

  it("sends the settings form's change for the kernel to validate", () => {
    const h = harness();
    h.session.configure({ voice: "cedar", turn_mode: "semantic_vad" });
    expect(h.model.sentOfKind("configure")).toEqual([
      { kind: "configure", voice: "cedar", turn_mode: "semantic_vad" },
    ]);
  });
});
