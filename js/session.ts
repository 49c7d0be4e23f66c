// One realtime session per widget model: wires the state machine, the peer, signaling, the
// event batcher and the kernel's messages, and writes the JS-owned traits. Shared by all views.

import type { AnyModel } from "@anywidget/types";
import type { ActivityState } from "./activity";
import { IDLE_ACTIVITY, reduceActivity } from "./activity";
import { Batcher } from "./batcher";
import { now } from "./clock";
import { AUTOPLAY_BLOCKED, describeError, INSECURE_CONTEXT, WidgetFailure } from "./errors";
import type {
  AudioMessage,
  ConfigureMessage,
  DownloadKind,
  EventEntry,
  FileMessage,
  FileRefused,
  HubBudget,
  KernelMessage,
  RealtimeEvent,
  Status,
  Track,
  WidgetError,
  WidgetMessage,
  WidgetModel,
} from "./generated/protocol";
import { withLiveHistory } from "./live_history";
import type { ClientEvent } from "./messages";
import { parseKernelMessage, withDataUrl } from "./messages";
import type { Levels, PeerLike, PeerOptions } from "./peer";
import { Peer } from "./peer";
import type { Playback } from "./ptt";
import { micEnabled, pressEvents, releaseEvents, SILENT, trackPlayback } from "./ptt";
import { QuietRollover } from "./rollover";
import type { Answer, Exchange } from "./signaling";
import {
  chooseRoute,
  ExtensionClient,
  hasPageConfig,
  KernelRelay,
  negotiate,
  SignalingError,
  serverExchange,
} from "./signaling";
import type { ConnectionReady } from "./spare";
import { keepConnectionReady } from "./spare";
import { ConnectionMachine, isLive } from "./state";
import type { Transcript } from "./transcript";
import { EMPTY_TRANSCRIPT, reduceTranscript } from "./transcript";

/** The longest a trait change waits to reach the kernel while a call is set up. */
export const SYNC_HOLD_MS = 500;

/** How many events the inspector keeps. */
export const LOG_SIZE = 500;

export interface SessionDeps {
  openPeer: (options: PeerOptions) => Promise<PeerLike>;
  /** Keep a connection made ahead for the session's next call (the browser's peers). */
  keepPeerReady?: () => ConnectionReady;
  client: ExtensionClient;
  pageConfig: () => boolean;
  /** A secure context with `navigator.mediaDevices`, so getUserMedia can work at all. */
  secureContext: () => boolean;
  relayTimeoutMs?: number;
  graceMs?: number;
  /** How long after the answer `session.created` may take. */
  sessionTimeoutMs?: number;
  /** How long a live call waits for a view to come back after its last one went away. */
  lastViewGraceMs?: number;
}

export function browserDeps(): SessionDeps {
  return {
    openPeer: (options) => Peer.open(options),
    keepPeerReady: keepConnectionReady,
    client: new ExtensionClient(),
    pageConfig: () => hasPageConfig(),
    secureContext: () =>
      globalThis.isSecureContext !== false &&
      typeof globalThis.navigator?.mediaDevices?.getUserMedia === "function",
  };
}

export type SessionChange = "events" | "sound" | "budget" | "ptt" | "continuity";

/** A file the kernel sent for a download. */
export interface DownloadedFile {
  name: string;
  mime: string;
  data: DataView;
}

/** A replacement call being set up after the connection was lost (or before it expires). */
export interface Reconnecting {
  attempt: number;
  of: number;
  reason: string;
}

/** The last time a call was replaced: after a loss, or rolled over before it expired. */
export interface Continued {
  rollover: boolean;
  reason: string;
  /** Epoch ms. */
  at: number;
}

/** What a view may read and do; traits are read from the model directly. */
export interface SessionHandle {
  readonly transcript: Transcript;
  readonly activity: ActivityState;
  /** Push-to-talk is held (the microphone is live while it is). */
  readonly talking: boolean;
  readonly log: readonly EventEntry[];
  readonly soundBlocked: boolean;
  /** With a JupyterHub class service: the user's remaining budget, else `null`. */
  readonly budget: HubBudget | null;
  /** The reconnect under way, else `null`. */
  readonly reconnecting: Reconnecting | null;
  /** The last replaced call of this session, else `null`. */
  readonly continued: Continued | null;
  connect(): Promise<void>;
  disconnect(): void;
  setMuted(muted: boolean): void;
  chooseMic(deviceId: string): void;
  pttPress(): void;
  pttRelease(): void;
  enableSound(): void;
  levels(): Levels;
  /** Forget the events the inspector shows (the kernel keeps its own log). */
  clearLog(): void;
  /** Ask the kernel for a file of the session; rejects with the kernel's reason. */
  download(what: DownloadKind): Promise<DownloadedFile>;
  /** The settings form: the kernel validates and applies the change (or sets `error`). */
  configure(settings: Omit<ConfigureMessage, "kind">): void;
  subscribe(listener: (change: SessionChange) => void): () => void;
}

const SESSION_TIMEOUT: WidgetError = {
  code: "session_timeout",
  message:
    "The call was set up, but the session never started (no session.created or session.started arrived)",
  fix: "WebRTC media may be blocked between this browser and the backend (firewall, VPN, UDP); check the network, then connect again",
};
const CONNECTION_FAILED: WidgetError = {
  code: "connection_failed",
  message: "The WebRTC connection failed",
  fix: "UDP to the realtime backend may be blocked (firewall, VPN); check the network, then connect again",
};
const CONNECTION_LOST: WidgetError = {
  code: "connection_lost",
  message: "The connection dropped and did not recover",
  fix: "Check the network, then connect again",
};

/** Why a call ended though nobody pressed Disconnect (shown in the widget, read in Python). */
/** The reason of a replacement call made because the session was about to expire. */
export const ROLLOVER_REASON = "the session reached its maximum duration";
export const NO_VIEW: WidgetError = {
  code: "no_view",
  message:
    "The call ended because its widget went away (the cell was re-run or its output cleared)",
  fix: "Display the session again and press Connect to start a new call",
};
export const KERNEL_GONE: WidgetError = {
  code: "kernel_restarted",
  message: "The kernel restarted or shut down — call ended",
  fix: "Re-run the cell that creates the session, then connect again",
};

/** Markers the widget puts in the event log around a replaced call. */
export const RECONNECTING = "rt_notebook.reconnecting";
export const RECONNECTED = "rt_notebook.reconnected";
/** Client events kept while no call can take them (connecting, reconnecting). */
export const MAX_QUEUED = 1000;
/** How long kernel events wait for the kernel's replay into a new call before going anyway. */
const REPLAY_WAIT_MS = 10_000;

/** Backoff before reconnect attempt `n` (1-based): 250 ms doubling, at most 4 s. */
export function backoffMs(n: number): number {
  return Math.min(4000, 250 * 2 ** (n - 1));
}

/** Events the kernel acts on at once (tools, sequencing, handlers waiting on them): never held
 * back to be grouped with others. */
const URGENT = new Set([
  RECONNECTING,
  RECONNECTED,
  "session.created",
  "session.started",
  "response.event",
  "session.closed",
  "response.function_call_arguments.done",
  "response.done",
  "error",
]);

/** How long a GPT-Live call may drain after `session.close` before its peer is closed. */
export const LIVE_CLOSE_MS = 2000;

/** The server event that says the session runs: Realtime's, GPT-Live's. */
const STARTED = new Set(["session.created", "session.started"]);

/** A kernel status message (Jupyter's iopub `status`), as much of it as the ack reads. */
interface KernelStatus {
  content?: { execution_state?: string };
}

const idle = (reply: KernelStatus): boolean => reply?.content?.execution_state === "idle";

export class Session implements SessionHandle {
  transcript: Transcript = EMPTY_TRANSCRIPT;
  activity: ActivityState = IDLE_ACTIVITY;
  log: EventEntry[] = [];
  soundBlocked = false;
  budget: HubBudget | null = null;
  reconnecting: Reconnecting | null = null;
  continued: Continued | null = null;

  readonly model: AnyModel<WidgetModel>;
  private readonly deps: SessionDeps;
  private readonly machine: ConnectionMachine;
  private readonly batcher: Batcher<EventEntry>;
  private readonly relay: KernelRelay;
  private readonly listeners = new Set<(change: SessionChange) => void>();
  private peer: PeerLike | null = null;
  /** Bumped by every connect and teardown; async steps of an older attempt stop quietly. */
  private attempt = 0;
  /** The connection kept ready for this session's next call. */
  private readonly peerReady: ConnectionReady;
  private route: "server" | "kernel" = "server";
  /** Client events sent before a peer exists, handed to the next one. */
  private outbox: ClientEvent[] = [];
  private playback: Playback = SILENT;
  private held = false;
  private sessionTimer: ReturnType<typeof setTimeout> | undefined;
  /** A GPT-Live call told `session.close` and draining, until `session.closed` or a timeout. */
  private closingTimer: ReturnType<typeof setTimeout> | undefined;
  /** Views showing this session now; a live call outlives its last one only briefly. */
  private views = 0;
  private orphanTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly downloads = new Map<
    string,
    { resolve: (file: DownloadedFile) => void; reject: (err: Error) => void }
  >();
  private downloadCount = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  /** Rolls over before the session expires, at a quiet moment. */
  private readonly rollover = new QuietRollover(() => {
    if (this.machine.state === "connected") void this.rollOver();
  });
  /** A call opened to take over before the current one expires, until its session starts. */
  private standby: PeerLike | null = null;
  private standbyTimer: ReturnType<typeof setTimeout> | undefined;
  /** The call that was lost, for the `reconnected` marker. */
  private lostCallId = "";
  /** Kernel events sent while a call is replaced: they go in after the replayed history. */
  private heldForReplay: ClientEvent[] | null = null;
  /** A GPT-Live call takes no client event before `session.started`: they wait in `outbox`. */
  private awaitingStart = false;
  private awaitingReplay = false;
  private replayTimer: ReturnType<typeof setTimeout> | undefined;
  /** Items this widget replayed into new calls: not new turns of the transcript. */
  private readonly replayedIds = new Set<string>();
  /** Trait syncs held back while a call is set up (nesting depth), and whether any wait. */
  private syncHeld = 0;
  private syncPending = false;
  private syncTimer: ReturnType<typeof setTimeout> | undefined;
  private startHold = false;

  constructor(model: AnyModel<WidgetModel>, deps: SessionDeps = browserDeps()) {
    this.model = model;
    this.deps = deps;
    const send = (msg: WidgetMessage) => model.send(msg);
    this.batcher = new Batcher<EventEntry>((batch, acked) => {
      // The kernel's idle status after this message is the ack: it has run every handler.
      const message: WidgetMessage = { kind: "events", batch };
      model.send(message, { iopub: { status: (reply: KernelStatus) => idle(reply) && acked() } });
    });
    this.relay = new KernelRelay(send, deps.relayTimeoutMs);
    this.machine = new ConnectionMachine({
      ...(deps.graceMs === undefined ? {} : { graceMs: deps.graceMs }),
      onIgnored: (state, event) => console.debug(`rt_notebook: ${event.type} ignored in ${state}`),
      onChange: (next, _previous, event) => {
        this.setTraits({ status: next });
        if (next === "closed" || next === "error") this.peerReady.refill(); // for the next call
        if (event.type === "grace_expired") this.lose("the network stayed disconnected");
      },
    });
    // A page reload leaves the previous page's status behind; no call survives it.
    this.setTraits({ status: "idle", call_id: "", route: "" });
    model.on("msg:custom", this.onMessage);
    model.on("change:muted", this.applyMic);
    model.on("change:push_to_talk", this.onPushToTalk);
    model.on("change:mic_device_id", this.onMicChange);
    // The kernel went away (restart, shutdown): no one can control this call any more.
    model.on("comm_live_update", this.onCommLost);
    // Ask the extension now, so that Connect finds the route known (a failure is asked again).
    if ((model.get("signaling") ?? "auto") !== "kernel" && deps.pageConfig()) {
      deps.client.status().catch(() => undefined);
    }
    this.peerReady = deps.keepPeerReady?.() ?? { refill() {}, release() {} };
  }

  get status(): Status {
    return this.machine.state;
  }

  /** Start a session (Connect button or `{kind: "connect"}`); ignored unless idle/closed/error. */
  async connect(): Promise<void> {
    this.holdSync();
    try {
      if (!this.machine.dispatch({ type: "connect" })) return;
      this.setTraits({ error: null, backend: "", call_id: "", route: "" });
      this.transcript = EMPTY_TRANSCRIPT;
      this.activity = IDLE_ACTIVITY;
      this.replayedIds.clear();
      this.continued = null;
      this.notify("events");
      this.notify("continuity");
      await this.openCall();
    } finally {
      this.releaseSync();
    }
  }

  /** Set up a call with the current session config: the first, or one replacing a lost one. */
  private async openCall(): Promise<void> {
    const attempt = ++this.attempt;
    const stale = () => attempt !== this.attempt;
    const mode = this.model.get("signaling") ?? "auto";
    this.route = mode === "kernel" ? "kernel" : "server";
    this.holdSync(); // the traits this sets reach the kernel with the answer
    try {
      if (!this.deps.secureContext()) throw new WidgetFailure(INSECURE_CONTEXT);
      // The route (the extension's status) and the microphone at once: with "auto" every route
      // needs the microphone; "server" asks for it only once the extension has answered.
      const early = mode === "server" ? null : this.deps.openPeer(this.peerOptions(attempt));
      early?.catch(() => undefined); // a refusal is handled where it is awaited, below
      let route: Awaited<ReturnType<typeof chooseRoute>>;
      try {
        route = await chooseRoute(mode, this.deps.client, this.deps.pageConfig());
      } catch (err) {
        early?.then((peer) => peer.close()).catch(() => undefined);
        throw err;
      }
      const peer = await (early ?? this.deps.openPeer(this.peerOptions(attempt)));
      if (stale()) {
        peer.close();
        return;
      }
      this.route = route.mode;
      this.setTraits({
        route: route.mode === "kernel" && mode === "auto" ? "kernel-fallback" : route.mode,
      });
      if (route.mode === "server") this.setBudget(route.status.budget ?? null);
      const exchange: Exchange =
        route.mode === "server"
          ? serverExchange(this.deps.client, route.status)
          : this.relay.exchange;
      this.peer = peer;
      this.applyMic();
      this.awaitingStart = this.model.get("protocol") === "live";
      if (!this.awaitingStart) this.flushOutbox(peer);
      const local = this.model.get("local_options");
      const config = this.model.get("session_config") ?? {};
      const answer = await negotiate(
        peer,
        exchange,
        // a GPT-Live call replacing a lost one starts with the conversation so far
        this.awaitingStart && this.reconnecting ? withLiveHistory(config, this.transcript) : config,
        local?.scenario ? local : undefined,
      );
      if (stale()) return;
      this.setTraits({ backend: answer.backend, call_id: answer.call_id });
      if (this.machine.state === "connecting" || this.machine.state === "reconnecting") {
        this.holdUntilStarted(); // the handshake with the peer is on the critical path too
        this.sessionTimer = setTimeout(
          () => this.callFailed(SESSION_TIMEOUT),
          this.deps.sessionTimeoutMs ?? 15_000,
        );
      }
    } catch (err) {
      if (!stale()) this.callFailed(describeError(err, this.route));
    } finally {
      this.releaseSync();
    }
  }

  /** A call could not be set up: a first one fails the session, a replacement tries again. */
  private callFailed(error: WidgetError): void {
    if (this.machine.state === "reconnecting") this.lose(error.message, error);
    else this.fail(error);
  }

  /**
   * The connection was lost (or the session is about to expire): replace the call with a new
   * one with the same session config, after a backoff, up to `continuity.attempts` times.
   * The transcript, the event log and the kernel's session carry on; kernel events sent
   * meanwhile are held and go in after the kernel's replay of the conversation.
   */
  private lose(reason: string, error: WidgetError = CONNECTION_LOST): void {
    const state = this.machine.state;
    if (state !== "connected" && state !== "interrupted" && state !== "reconnecting") return;
    const attempts = Math.max(0, this.model.get("continuity")?.attempts ?? 3);
    const attempt = (this.reconnecting?.attempt ?? 0) + 1;
    const previous = this.model.get("call_id") || this.lostCallId;
    this.dropCall();
    if (attempt > attempts) {
      const gaveUp = attempts > 0 ? ` (no new call after ${attempts} attempts)` : "";
      this.fail({ ...error, message: `${error.message}${gaveUp}` });
      return;
    }
    this.lostCallId = previous;
    this.reconnecting = { attempt, of: attempts, reason };
    this.heldForReplay ??= [];
    this.machine.dispatch({ type: "lost" });
    this.setTraits({ call_id: "" });
    this.marker(RECONNECTING, { attempt, of: attempts, reason, call_id: previous });
    this.notify("continuity");
    const delay = reason === ROLLOVER_REASON ? 0 : backoffMs(attempt); // nothing failed: at once
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.openCall();
    }, delay);
  }

  /** The replacement call has its session: say so, and wait for the kernel's replay. */
  private reconnected(
    done: Reconnecting | null = this.reconnecting,
    extra: Record<string, unknown> = {},
  ): void {
    this.reconnecting = null;
    this.awaitingReplay = true;
    this.marker(RECONNECTED, {
      attempt: done?.attempt ?? 0,
      reason: done?.reason ?? "",
      rollover: done?.reason === ROLLOVER_REASON,
      call_id: this.model.get("call_id") ?? "",
      previous_call_id: this.lostCallId,
      ...extra,
    });
    this.lostCallId = "";
    const reason = done?.reason ?? "";
    this.continued = { rollover: reason === ROLLOVER_REASON, reason, at: now() };
    this.notify("continuity");
    this.replayTimer = setTimeout(() => this.releaseHeld(), REPLAY_WAIT_MS);
  }

  /** The kernel's replay of the conversation: into the new call first, then what waited. */
  private replay(events: RealtimeEvent[]): void {
    if (!this.awaitingReplay || !this.peer) return;
    this.awaitingReplay = false;
    for (const event of events) {
      const id = (event.item as { id?: unknown } | undefined)?.id;
      if (typeof id === "string") this.replayedIds.add(id);
      this.peer.send(event as ClientEvent);
    }
    this.releaseHeld();
  }

  private releaseHeld(): void {
    if (this.replayTimer !== undefined) clearTimeout(this.replayTimer);
    this.replayTimer = undefined;
    const held = this.heldForReplay ?? [];
    this.heldForReplay = null;
    for (const event of held) this.send(event);
  }

  /** Before the session's `expires_at`, move to a new call at a quiet moment (js/rollover.ts),
   * unless `continuity.rollover` is off. */
  private scheduleRollover(event: RealtimeEvent): void {
    this.clearRolloverTimer();
    const session = event.session as { expires_at?: unknown } | undefined;
    const expiresAt = session?.expires_at;
    const continuity = this.model.get("continuity");
    if (typeof expiresAt !== "number" || continuity?.rollover === false) return;
    if ((continuity?.attempts ?? 3) < 1) return; // a rollover is a reconnect: none allowed
    this.rollover.schedule(expiresAt * 1000 - now());
  }

  /**
   * Make-before-break: a new call (the same microphone, session config and route) is opened
   * while the current one stays up; when the new call's session starts, events flow from it,
   * the old call hangs up, and the kernel replays the conversation into the new one. Kernel
   * events wait from the start (as in a reconnect) and go in after the replay. Whatever the old
   * call still says after the switch is dropped on purpose: it belongs to a call being hung up.
   * If the new call cannot start, the old one is replaced after it, as after a loss.
   */
  private async rollOver(): Promise<void> {
    const old = this.peer;
    if (!old || this.standby || this.machine.state !== "connected") return;
    const base = this.attempt;
    const previous = this.model.get("call_id") ?? "";
    const done: Reconnecting = {
      attempt: 1,
      of: Math.max(0, this.model.get("continuity")?.attempts ?? 3),
      reason: ROLLOVER_REASON,
    };
    let peer: PeerLike | null = null;
    let answer: Answer | null = null;
    let switched = false;
    const early: EventEntry[] = [];
    const abandon = (why: string): void => {
      if (switched || base !== this.attempt) return;
      console.debug(`rt_notebook: the new call did not start (${why}); replacing the call after`);
      this.closeStandby();
      this.lose(ROLLOVER_REASON);
    };
    const options = this.peerOptions(base + 1);
    const takeOver: PeerOptions = {
      ...options,
      ...(old.micStream ? { mic: old.micStream } : {}),
      onEntry: (entry) => {
        if (switched) return options.onEntry(entry);
        if (base !== this.attempt || !peer) return;
        early.push(entry);
        if (entry.dir !== "server" || !STARTED.has(entry.event.type)) return;
        switched = true;
        this.switchCall(old, peer, previous, answer, early, done);
      },
      onIceState: (state) => {
        if (switched) options.onIceState(state);
        else if (state === "failed") abandon("its network connection failed");
      },
      onChannelClose: () => {
        if (switched) options.onChannelClose();
        else abandon("its data channel closed");
      },
    };
    this.heldForReplay ??= [];
    this.marker(RECONNECTING, { ...done, call_id: previous, make_before_break: true });
    try {
      const route = await chooseRoute(this.route, this.deps.client, this.deps.pageConfig());
      if (base !== this.attempt) return;
      peer = await this.deps.openPeer(takeOver);
      if (base !== this.attempt) {
        peer.close();
        return;
      }
      this.standby = peer;
      const muted = this.model.get("muted") ?? false;
      peer.setMicEnabled(micEnabled(muted, this.model.get("push_to_talk") ?? false, this.held));
      const exchange: Exchange =
        route.mode === "server"
          ? serverExchange(this.deps.client, route.status)
          : this.relay.exchange;
      const local = this.model.get("local_options");
      answer = await negotiate(
        peer,
        exchange,
        this.model.get("session_config") ?? {},
        local?.scenario ? local : undefined,
      );
      if (switched && this.peer === peer) {
        this.setTraits({ backend: answer.backend, call_id: answer.call_id }); // it started first
      }
      if (base !== this.attempt || switched) return;
      this.standbyTimer = setTimeout(
        () => abandon("no session.created"),
        this.deps.sessionTimeoutMs ?? 15_000,
      );
    } catch (err) {
      abandon(describeError(err, this.route).message);
    }
  }

  /** The new call's session started: route events from it, then hang up the old call. */
  private switchCall(
    old: PeerLike,
    next: PeerLike,
    previous: string,
    answer: Answer | null,
    entries: EventEntry[],
    done: Reconnecting,
  ): void {
    this.clearStandbyTimer();
    this.standby = null;
    this.attempt += 1; // the old call's late events are dropped from here on
    this.peer = next;
    this.applyMic();
    const openedAt = entries[entries.length - 1]?.t ?? now();
    old.close();
    const closedAt = now();
    if (answer) this.setTraits({ backend: answer.backend, call_id: answer.call_id });
    this.lostCallId = previous;
    for (const entry of entries) this.record(entry);
    this.reconnected(done, {
      make_before_break: true,
      opened_at: openedAt,
      previous_closed_at: closedAt,
    });
  }

  private closeStandby(): void {
    this.clearStandbyTimer();
    this.standby?.close();
    this.standby = null;
  }

  private clearStandbyTimer(): void {
    if (this.standbyTimer !== undefined) clearTimeout(this.standbyTimer);
    this.standbyTimer = undefined;
  }

  /** Close the session (Disconnect button or `{kind: "disconnect"}`). */
  disconnect(drain = true): void {
    const peer = this.peer;
    if (drain && peer && this.closingTimer === undefined && this.liveCallRunning()) {
      // GPT-Live: the call ends with its final usage (session.closed), then the peer closes
      peer.send({ type: "session.close" });
      this.closingTimer = setTimeout(() => this.disconnect(false), LIVE_CLOSE_MS);
      return;
    }
    this.clearClosingTimer();
    const callId = this.model.get("call_id") ?? "";
    this.machine.dispatch({ type: "close" });
    this.teardown(null);
    if (this.budget && callId) {
      // a class service counts the call until it hears it ended: tell it now
      this.deps.client.hangup(callId).catch((err: unknown) => {
        console.debug("rt_notebook: the class service did not take the hangup", err);
      });
    }
  }

  private liveCallRunning(): boolean {
    return this.model.get("protocol") === "live" && this.machine.state === "connected";
  }

  private clearClosingTimer(): void {
    if (this.closingTimer !== undefined) clearTimeout(this.closingTimer);
    this.closingTimer = undefined;
  }

  /** Send a client event on the channel, queued until it is open (and, while a call is
   * replaced, until the conversation was replayed into the new one). */
  send(event: ClientEvent): void {
    if (this.peer && !this.heldForReplay && !this.awaitingStart) {
      this.peer.send(event);
      return;
    }
    const queue = this.heldForReplay ?? this.outbox;
    if (queue.length >= MAX_QUEUED) {
      // bounded: the oldest goes, and the user is told (never at normal event rates)
      const dropped = queue.shift();
      this.setTraits({
        error: {
          code: "events_dropped",
          message: `More than ${MAX_QUEUED} events waited for the connection; the oldest (${dropped?.type}) was dropped`,
          fix: "Send less while the session is reconnecting (e.g. no audio appends from a loop)",
        },
      });
    }
    queue.push(event);
  }

  private flushOutbox(peer: PeerLike): void {
    const queued = this.outbox;
    this.outbox = [];
    for (const event of queued) peer.send(event);
  }

  setMuted(muted: boolean): void {
    this.setTraits({ muted }); // change:muted applies it
  }

  chooseMic(deviceId: string): void {
    this.setTraits({ mic_device_id: deviceId }); // change:mic_device_id switches the track
  }

  pttPress(): void {
    const live = this.machine.state === "connected" || this.machine.state === "interrupted";
    if (!this.model.get("push_to_talk") || this.held || !this.peer || !live) return;
    this.held = true;
    for (const event of pressEvents(this.playback)) this.send(event);
    this.applyMic();
    this.notify("ptt");
  }

  pttRelease(): void {
    if (!this.held) return;
    this.held = false;
    this.applyMic();
    if (this.peer) for (const event of releaseEvents()) this.send(event);
    this.notify("ptt");
  }

  enableSound(): void {
    this.peer?.enableSound().catch(() => undefined);
  }

  levels(): Levels {
    return this.peer?.levels() ?? { input: 0, output: 0 };
  }

  get talking(): boolean {
    return this.held;
  }

  clearLog(): void {
    this.log = [];
    this.notify("events");
  }

  download(what: DownloadKind): Promise<DownloadedFile> {
    const id = `d${++this.downloadCount}`;
    return new Promise((resolve, reject) => {
      this.downloads.set(id, { resolve, reject });
      this.model.send({ kind: "download", id, what });
    });
  }

  configure(settings: Omit<ConfigureMessage, "kind">): void {
    this.model.send({ kind: "configure", ...settings });
  }

  subscribe(listener: (change: SessionChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A view of this session was rendered. */
  viewAdded(): void {
    this.views += 1;
    this.clearOrphanTimer();
  }

  /**
   * A view went away (output replaced or cleared, notebook closed). A live call left without
   * any view ends after a short grace, so a re-rendered output can take it over; views only
   * detached by notebook windowing (scrolled out of sight) are not removed, so scrolling
   * never ends a call.
   */
  viewRemoved(): void {
    this.views = Math.max(0, this.views - 1);
    if (this.views > 0 || !isLive(this.machine.state)) return;
    this.clearOrphanTimer();
    this.orphanTimer = setTimeout(() => {
      this.orphanTimer = undefined;
      if (this.views === 0 && isLive(this.machine.state)) this.hangUp(NO_VIEW);
    }, this.deps.lastViewGraceMs ?? 2000);
  }

  /** End a live call for a reason the user did not choose, and say which. */
  hangUp(reason: WidgetError): void {
    if (!isLive(this.machine.state)) return;
    this.machine.dispatch({ type: "close" });
    this.teardown(reason);
  }

  /** The `initialize` cleanup: close everything and drop every listener. */
  dispose(): void {
    this.clearOrphanTimer();
    if (this.syncTimer !== undefined) clearTimeout(this.syncTimer);
    this.model.off("comm_live_update", this.onCommLost);
    this.model.off("msg:custom", this.onMessage);
    this.model.off("change:muted", this.applyMic);
    this.model.off("change:push_to_talk", this.onPushToTalk);
    this.model.off("change:mic_device_id", this.onMicChange);
    this.listeners.clear();
    for (const pending of this.downloads.values()) pending.reject(new Error("widget closed"));
    this.downloads.clear();
    this.disconnect(false);
    this.machine.dispose();
    this.peerReady.release();
  }

  private peerOptions(attempt: number): PeerOptions {
    const current = () => attempt === this.attempt;
    return {
      audio: this.model.get("audio_constraints") ?? {},
      deviceId: this.model.get("mic_device_id") ?? "",
      gatherIce: this.model.get("protocol") === "live",
      ...(this.model.get("record_audio")
        ? {
            onAudio: (track: Track, pcm: Int16Array, t: number) => {
              if (current()) this.sendAudio({ kind: "audio", track, t }, pcm);
            },
          }
        : {}),
      onEntry: (entry) => {
        if (current()) this.record(entry);
      },
      onMicError: (err) => {
        if (current()) this.callFailed(describeError(err, this.route));
      },
      onIceState: (state) => {
        if (!current()) return;
        if (state === "disconnected") this.machine.dispatch({ type: "ice_disconnected" });
        else if (state === "connected" || state === "completed") {
          this.machine.dispatch({ type: "ice_recovered" });
        } else if (state === "failed") this.callLost("the network connection failed");
      },
      onChannelClose: () => {
        if (!current()) return;
        if (this.closingTimer !== undefined) {
          this.disconnect(false); // the Live call we were closing ended
          return;
        }
        const callId = this.model.get("call_id") ?? "";
        if (this.budget && callId && this.machine.state !== "connecting") {
          // a class service ends calls on purpose (budget, teacher): ask it why, no new call
          this.disconnect();
          void this.explainEnd(callId);
          return;
        }
        this.callLost("the data channel closed");
      },
      onSoundBlocked: (blocked) => {
        if (!current() || blocked === this.soundBlocked) return;
        this.soundBlocked = blocked;
        const error = this.model.get("error");
        if (blocked) this.setTraits({ error: AUTOPLAY_BLOCKED });
        else if (error?.code === AUTOPLAY_BLOCKED.code) this.setTraits({ error: null });
        this.notify("sound");
      },
      onSendError: (event, err) => {
        if (!current()) return;
        this.setTraits({
          error: {
            code: "send_failed",
            message: `Could not send ${event.type}: ${err instanceof Error ? err.message : String(err)}`,
            fix: "Each event must fit in one data-channel message (about 256 KB in Chrome): make images smaller",
          },
        });
      },
    };
  }

  /** One recorded chunk: the message, and the PCM16 samples as its buffer. */
  private sendAudio(msg: AudioMessage, pcm: Int16Array): void {
    this.model.send(msg, undefined, [pcm]);
  }

  /** A call failed or dropped: before the session started it fails, after it is replaced. */
  private callLost(reason: string): void {
    if (this.machine.state === "connecting") this.fail(CONNECTION_FAILED);
    else this.lose(reason);
  }

  /** A marker of the widget's own in the event log (the kernel sees it in order). */
  private marker(type: string, fields: Record<string, unknown>): void {
    this.record({ dir: "server", t: now(), event: { type, ...fields } });
  }

  private record(entry: EventEntry): void {
    this.batcher.push(entry, URGENT.has(entry.event.type));
    this.log.push(entry);
    if (this.log.length > LOG_SIZE) this.log.splice(0, this.log.length - LOG_SIZE);
    if (!this.isReplayed(entry.event)) this.transcript = reduceTranscript(this.transcript, entry);
    this.activity = reduceActivity(this.activity, entry);
    if (entry.dir === "server") {
      this.playback = trackPlayback(this.playback, entry.event);
      this.rollover.observe(entry);
      if (entry.event.type === "session.closed" && this.closingTimer !== undefined) {
        queueMicrotask(() => this.disconnect(false)); // after this event reaches the kernel
      }
      if (STARTED.has(entry.event.type)) {
        if (this.awaitingStart && this.peer) {
          this.awaitingStart = false;
          this.flushOutbox(this.peer);
        }
        const replacing = this.machine.state === "reconnecting";
        if (this.machine.dispatch({ type: "session_created" })) {
          this.clearSessionTimer();
          this.releaseStartHold();
          if (replacing) this.reconnected();
        }
        // a GPT-Live session is not rolled over: a new one would start without its history
        if (entry.event.type === "session.created") this.scheduleRollover(entry.event);
      }
    }
    this.notify("events");
  }

  /** An echo of an item replayed into a new call: the transcript has it already. */
  private isReplayed(event: RealtimeEvent): boolean {
    if (this.replayedIds.size === 0) return false;
    const item = event.item as { id?: unknown } | undefined;
    const id = item?.id ?? event.item_id;
    return typeof id === "string" && this.replayedIds.has(id);
  }

  private readonly onMessage = (msg: unknown, buffers?: DataView[]): void => {
    const message: KernelMessage | null = parseKernelMessage(msg);
    if (!message) return;
    switch (message.kind) {
      case "connect":
        void this.connect();
        return;
      case "disconnect":
        this.disconnect();
        return;
      case "answer":
        this.relay.receive(message);
        return;
      case "file":
        this.receiveFile(message, buffers?.[0]);
        return;
      case "replay":
        this.replay(message.events);
        return;
      case "send": {
        if (!message.binary) {
          this.send(message.event);
          return;
        }
        const buffer = buffers?.[0];
        try {
          if (!buffer) throw new Error("the message has `binary` but no buffer");
          this.send(withDataUrl(message.event, message.binary, buffer));
        } catch (err) {
          this.setTraits({
            error: {
              code: "send_failed",
              message: `Could not send ${message.event.type}: ${err instanceof Error ? err.message : String(err)}`,
            },
          });
        }
        return;
      }
    }
  };

  private readonly onCommLost = (): void => {
    this.hangUp(KERNEL_GONE);
  };
  private receiveFile(message: FileMessage | FileRefused, buffer: DataView | undefined): void {
    const pending = this.downloads.get(message.id);
    if (!pending) return;
    this.downloads.delete(message.id);
    if ("error" in message) pending.reject(new Error(message.error.message));
    else if (!buffer) pending.reject(new Error("the kernel sent no file"));
    else pending.resolve({ name: message.name, mime: message.mime, data: buffer });
  }

  private readonly applyMic = (): void => {
    const muted = this.model.get("muted") ?? false;
    const pushToTalk = this.model.get("push_to_talk") ?? false;
    this.peer?.setMicEnabled(micEnabled(muted, pushToTalk, this.held));
  };

  private readonly onPushToTalk = (): void => {
    if (!this.model.get("push_to_talk")) this.held = false;
    this.applyMic();
  };

  private readonly onMicChange = (): void => {
    const peer = this.peer;
    if (!peer) return;
    peer.switchMic(this.model.get("mic_device_id") ?? "").catch((err: unknown) => {
      if (peer === this.peer) this.setTraits({ error: describeError(err, this.route) });
    });
  };

  /**
   * A call behind a JupyterHub class service closed from the far side: ask the service why
   * (a spent budget, the teacher) and show it, with the budget that is left.
   */
  private async explainEnd(callId: string): Promise<void> {
    const attempt = this.attempt;
    try {
      const record = await this.deps.client.callRecord(callId);
      if (attempt !== this.attempt) return;
      if (record.end_code && record.end_code !== "ended" && record.end_message) {
        this.setTraits({
          error: describeError(
            new SignalingError({ status: 0, code: record.end_code, message: record.end_message }),
            "server",
          ),
        });
      }
      const status = await this.deps.client.status();
      if (attempt === this.attempt) this.setBudget(status.budget ?? null);
    } catch (err) {
      console.debug("rt_notebook: could not ask the class service why the call ended", err);
    }
  }

  private setBudget(budget: HubBudget | null): void {
    this.budget = budget;
    this.notify("budget");
  }

  private fail(error: WidgetError): void {
    this.machine.dispatch({ type: "fail" });
    this.teardown(error);
  }

  /** Close the current call's peer; its late callbacks are ignored from now on. */
  private dropCall(): void {
    this.releaseStartHold();
    this.attempt += 1;
    this.clearSessionTimer();
    this.clearRolloverTimer();
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.relay.cancel();
    this.closeStandby();
    this.peer?.close();
    this.peer = null;
  }

  /** Close the peer and forget the attempt; with an error, show it. */
  private teardown(error: WidgetError | null): void {
    this.dropCall();
    if (this.replayTimer !== undefined) clearTimeout(this.replayTimer);
    this.replayTimer = undefined;
    this.heldForReplay = null;
    this.awaitingReplay = false;
    this.lostCallId = "";
    if (this.reconnecting) {
      this.reconnecting = null;
      this.notify("continuity");
    }
    this.outbox = [];
    this.awaitingStart = false;
    this.clearClosingTimer();
    if (this.held) {
      this.held = false;
      this.notify("ptt");
    }
    this.playback = SILENT;
    this.batcher.flush();
    if (this.soundBlocked) {
      this.soundBlocked = false;
      this.notify("sound");
    }
    this.setTraits(error ? { call_id: "", error } : { call_id: "" });
  }

  private clearRolloverTimer(): void {
    this.rollover.cancel();
  }

  private clearOrphanTimer(): void {
    if (this.orphanTimer !== undefined) clearTimeout(this.orphanTimer);
    this.orphanTimer = undefined;
  }

  private clearSessionTimer(): void {
    if (this.sessionTimer !== undefined) clearTimeout(this.sessionTimer);
    this.sessionTimer = undefined;
  }

  private notify(change: SessionChange): void {
    for (const listener of this.listeners) listener(change);
  }

  /** Write traits that changed, then sync them once (or once the sync is released). */
  private setTraits(values: Partial<WidgetModel>): void {
    let changed = false;
    for (const [key, value] of Object.entries(values) as [keyof WidgetModel, unknown][]) {
      if (JSON.stringify(this.model.get(key)) === JSON.stringify(value)) continue;
      this.model.set(key, structuredClone(value) as never); // never alias shared constants
      changed = true;
    }
    if (!changed) return;
    if (this.syncHeld === 0) {
      this.saveChanges();
    } else if (!this.syncPending) {
      this.syncPending = true; // a slow setup (a permission prompt) is not kept from the kernel
      this.syncTimer = setTimeout(() => this.flushSync(), SYNC_HOLD_MS);
    }
  }

  /** While a call is set up, trait syncs wait: each costs the kernel a round trip on the
   * Jupyter server the offer goes through (busy, echo, idle; JupyterLab even refetches its
   * favicon at each), which slowed the offer's POST. The view reads the model at once. */
  private holdSync(): void {
    this.syncHeld += 1;
  }

  /** Keep trait syncs held from the answer until the session starts (or the call ends). */
  private holdUntilStarted(): void {
    if (this.startHold) return;
    this.startHold = true;
    this.holdSync();
  }

  private releaseStartHold(): void {
    if (!this.startHold) return;
    this.startHold = false;
    this.releaseSync();
  }

  private releaseSync(): void {
    this.syncHeld = Math.max(0, this.syncHeld - 1);
    if (this.syncHeld === 0) this.flushSync();
  }

  private flushSync(): void {
    if (this.syncTimer !== undefined) clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
    if (!this.syncPending) return;
    this.syncPending = false;
    this.saveChanges();
  }

  private saveChanges(): void {
    try {
      this.model.save_changes();
    } catch (err) {
      // The comm is gone (widget closed while we clean up): nothing left to tell the kernel.
      console.debug("rt_notebook: could not sync traits", err);
    }
  }
}
