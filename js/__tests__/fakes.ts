// Test doubles: an anywidget model with a scriptable kernel side, a peer without WebRTC, and
// a Session built on them.

import type { AnyModel } from "@anywidget/types";
import { expect, vi } from "vitest";
import type { WidgetModel } from "../generated/protocol";
import type { ClientEvent, ServerEvent } from "../messages";
import type { Levels, PeerLike, PeerOptions } from "../peer";
import type { SessionDeps } from "../session";
import { Session } from "../session";
import { ExtensionClient } from "../signaling";

type Handler = (...args: unknown[]) => void;

export class FakeModel {
  attrs: Partial<WidgetModel>;
  /** Everything the widget sent to the kernel. */
  sent: Record<string, unknown>[] = [];
  /** The buffers of each sent message, by index. */
  buffers: unknown[][] = [];
  saves = 0;
  /** Every status the widget gave the model, in order. */
  statuses: string[] = [];
  private readonly handlers = new Map<string, Set<Handler>>();

  constructor(attrs: Partial<WidgetModel> = {}) {
    this.attrs = {
      session_config: { type: "realtime" },
      signaling: "kernel",
      status: "idle",
      error: null,
      notice: "",
      backend: "",
      call_id: "",
      muted: false,
      push_to_talk: false,
      mic_device_id: "",
      audio_constraints: {},
      ...attrs,
    };
  }

  get<K extends keyof WidgetModel>(key: K): WidgetModel[K] {
    return this.attrs[key] as WidgetModel[K];
  }

  set<K extends keyof WidgetModel>(key: K, value: WidgetModel[K]): void {
    const old = this.attrs[key];
    this.attrs[key] = value;
    if (JSON.stringify(old) === JSON.stringify(value)) return;
    if (key === "status") this.statuses.push(String(value));
    this.emit(`change:${key}`);
  }

  save_changes(): void {
    this.saves += 1;
  }

  send(content: Record<string, unknown>, _callbacks?: unknown, buffers?: unknown[]): void {
    this.sent.push(content);
    this.buffers.push(buffers ?? []);
  }

  on(name: string, callback: Handler): void {
    const set = this.handlers.get(name) ?? new Set();
    set.add(callback);
    this.handlers.set(name, set);
  }

  off(name?: string | null, callback?: Handler | null): void {
    if (name && callback) this.handlers.get(name)?.delete(callback);
  }

  listenerCount(): number {
    let n = 0;
    for (const set of this.handlers.values()) n += set.size;
    return n;
  }

  emit(name: string, ...args: unknown[]): void {
    for (const handler of [...(this.handlers.get(name) ?? [])]) handler(...args);
  }

  /** A custom message from the kernel. */
  kernel(msg: unknown, buffers: DataView[] = []): void {
    this.emit("msg:custom", msg, buffers);
  }

  sentOfKind(kind: string): Record<string, unknown>[] {
    return this.sent.filter((m) => m.kind === kind);
  }

  asModel(): AnyModel<WidgetModel> {
    return this as unknown as AnyModel<WidgetModel>;
  }
}

export class FakePeer implements PeerLike {
  readonly options: PeerOptions;
  /** Events that went out on the (fake) open channel, in order. */
  readonly wire: ClientEvent[] = [];
  readonly accepted: string[] = [];
  micEnabled = true;
  closed = false;
  channelOpen = false;
  private queue: ClientEvent[] = [];

  constructor(options: PeerOptions) {
    this.options = options;
  }

  async createOffer(): Promise<string> {
    return "v=0\r\noffer\r\n";
  }

  async accept(answerSdp: string): Promise<void> {
    this.accepted.push(answerSdp);
  }

  send(event: ClientEvent): void {
    if (this.closed) return;
    if (!this.channelOpen) {
      this.queue.push(event);
      return;
    }
    this.wire.push(event);
    this.options.onEntry({ dir: "client", t: Date.now(), event });
  }

  open(): void {
    this.channelOpen = true;
    const queued = this.queue;
    this.queue = [];
    for (const event of queued) this.send(event);
  }

  /** An event from the server on the channel. */
  receive(event: ServerEvent): void {
    this.options.onEntry({ dir: "server", t: Date.now(), event });
  }

  setMicEnabled(enabled: boolean): void {
    this.micEnabled = enabled;
  }

  async switchMic(): Promise<void> {}

  async enableSound(): Promise<boolean> {
    return true;
  }

  levels(): Levels {
    return { input: 0, output: 0 };
  }

  close(): void {
    this.closed = true;
  }
}

/** A fetch that answers from a table of path suffix → [status, body], or throws for "network". */
export function routedFetch(
  routes: Record<string, [number, unknown] | "network">,
  calls: string[] = [],
): typeof fetch {
  return (async (url: string) => {
    calls.push(url);
    const match = Object.entries(routes).find(([suffix]) => url.endsWith(suffix));
    if (!match) return new Response("not found", { status: 404 });
    const route = match[1];
    if (route === "network") throw new TypeError("Failed to fetch");
    const [status, body] = route;
    return new Response(typeof body === "string" ? body : JSON.stringify(body), { status });
  }) as unknown as typeof fetch;
}

export const STATUS_LOCAL = {
  backend: "local",
  backend_setting: "auto",
  key_configured: false,
  allowed_models: [],
  session_defaults: {},
  overridden_fields: [],
  default_model: "gpt-realtime-2.1",
  model_notices: [],
  version: "0.1.0",
};

/** A Session over fakes: a FakeModel, the FakePeers it opens, the kernel relay unless `deps`
 * say otherwise. */
export function fakeSession(attrs: Partial<WidgetModel> = {}, deps: Partial<SessionDeps> = {}) {
  const model = new FakeModel(attrs);
  const peers: FakePeer[] = [];
  const session = new Session(model.asModel(), {
    openPeer: async (options: PeerOptions) => {
      const peer = new FakePeer(options);
      peers.push(peer);
      return peer;
    },
    client: new ExtensionClient("/", routedFetch({})),
    pageConfig: () => true,
    secureContext: () => true,
    ...deps,
  });
  const peer = (): FakePeer => {
    const last = peers.at(-1);
    if (!last) throw new Error("no peer yet");
    return last;
  };
  return { model, session, peers, peer };
}

export type FakeSession = ReturnType<typeof fakeSession>;

/** Answer the kernel relay's `n`-th offer as the kernel would; returns the offer. */
export async function answerOffer(
  h: FakeSession,
  n = 0,
  fields: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  await vi.waitFor(() => expect(h.model.sentOfKind("offer").length).toBeGreaterThan(n));
  const offer = h.model.sentOfKind("offer")[n] ?? {};
  h.model.kernel({
    kind: "answer",
    id: offer.id,
    sdp: "v=0\r\nanswer",
    call_id: `rtc_${n}`,
    backend: "local",
    ...fields,
  });
  return offer;
}
