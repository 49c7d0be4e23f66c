// SDP offer/answer exchange: with the rt_notebook server extension (base URL and XSRF from the
// page) or relayed through the kernel, chosen per the `signaling` trait. Errors come back as
// thrown `SignalingError`s, so an error answer can never reach setRemoteDescription.

import type {
  AnswerMessage,
  Backend,
  CallAnswer,
  CallError,
  CallRecord,
  CallRequest,
  ErrorBody,
  LocalOptions,
  ServerStatus,
  SignalingMode,
  WidgetMessage,
} from "./generated/protocol";

export class SignalingError extends Error {
  readonly status: number;
  readonly code: string;
  readonly param: string | undefined;

  constructor(error: CallError) {
    super(error.message);
    this.name = "SignalingError";
    this.status = error.status;
    this.code = error.code;
    this.param = error.param;
  }
}

/** Whether the page embeds Jupyter's config (JupyterLab, Notebook 7; not VS Code or Colab). */
export function hasPageConfig(doc: Document | undefined = globalThis.document): boolean {
  return Boolean(doc?.getElementById("jupyter-config-data"));
}

/** The Jupyter base URL from the page config that JupyterLab and Notebook 7 embed. */
export function pageBaseUrl(doc: Document = document): string {
  const el = doc.getElementById("jupyter-config-data");
  if (el?.textContent) {
    try {
      const config = JSON.parse(el.textContent) as { baseUrl?: unknown };
      if (typeof config.baseUrl === "string") {
        return config.baseUrl.endsWith("/") ? config.baseUrl : `${config.baseUrl}/`;
      }
    } catch {
      // fall through to the default
    }
  }
  return "/";
}

/** The `_xsrf` cookie, which Jupyter checks on cookie-authenticated POSTs. */
export function xsrfToken(cookie: string = globalThis.document?.cookie ?? ""): string | undefined {
  for (const part of cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === "_xsrf") return decodeURIComponent(rest.join("="));
  }
  return undefined;
}

async function readError(response: Response): Promise<CallError> {
  const text = await response.text();
  try {
    const body = JSON.parse(text) as Partial<ErrorBody> & { message?: string };
    if (body.error?.message) {
      return {
        status: response.status,
        code: body.error.code ?? "error",
        message: body.error.message,
        ...(body.error.param ? { param: body.error.param } : {}),
      };
    }
    if (body.message) return { status: response.status, code: "error", message: body.message };
  } catch {
    // not JSON
  }
  return {
    status: response.status,
    code: response.status === 404 ? "extension_missing" : "error",
    message:
      response.status === 404
        ? "The rt_notebook server extension is not enabled on this Jupyter server"
        : `${response.status} ${response.statusText}: ${text.slice(0, 200)}`,
  };
}

export class ExtensionClient {
  readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;
  private lastStatus: { at: number; status: Promise<ServerStatus> } | null = null;

  constructor(baseUrl: string = pageBaseUrl(), fetchImpl: typeof fetch = fetch.bind(globalThis)) {
    this.baseUrl = baseUrl;
    this.fetchImpl = fetchImpl;
  }

  private async request<T>(path: string, init: RequestInit = {}): Promise<T> {
    const headers = new Headers(init.headers);
    const token = xsrfToken();
    if (token) headers.set("X-XSRFToken", token);
    let response: Response;
    try {
      response = await this.fetchImpl(`${this.baseUrl}api/rt-notebook/${path}`, {
        ...init,
        headers,
        credentials: "same-origin",
      });
    } catch (err) {
      throw new SignalingError({
        status: 0,
        code: "unreachable",
        message: `The Jupyter server could not be reached: ${String(err)}`,
      });
    }
    if (!response.ok) throw new SignalingError(await readError(response));
    try {
      return (await response.json()) as T;
    } catch {
      throw new SignalingError({
        status: response.status,
        code: "bad_answer",
        message: `The server's answer to ${path} is not JSON`,
      });
    }
  }

  /** The extension's status; an answer fetched within `maxAgeMs` is reused (a connect takes
   * the one fetched when the widget appeared, instead of waiting for a new one). */
  status(maxAgeMs = 0): Promise<ServerStatus> {
    const cached = this.lastStatus;
    if (cached && maxAgeMs > 0 && Date.now() - cached.at <= maxAgeMs) return cached.status;
    const status = this.request<ServerStatus>("status");
    this.lastStatus = { at: Date.now(), status };
    status.catch(() => {
      if (this.lastStatus?.status === status) this.lastStatus = null; // failures are not kept
    });
    return status;
  }

  /** End a call at the class service (`backend="hub"` only). */
  async hangup(callId: string): Promise<void> {
    await this.request<unknown>(`calls/${encodeURIComponent(callId)}/hangup`, { method: "POST" });
  }

  /** The class service's record of a call (`backend="hub"` only). */
  callRecord(callId: string): Promise<CallRecord> {
    return this.request<CallRecord>(`calls/${encodeURIComponent(callId)}`);
  }

  /** Exchange an SDP offer for an answer; errors are thrown, never handed to WebRTC. */
  async createCall(
    sdp: string,
    session: Record<string, unknown>,
    local?: LocalOptions,
  ): Promise<CallAnswer> {
    const request: CallRequest = local ? { sdp, session, local } : { sdp, session };
    const answer = await this.request<CallAnswer>("calls", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(request),
    });
    if (typeof answer.sdp !== "string" || !answer.sdp.startsWith("v=0")) {
      throw new SignalingError({
        status: 502,
        code: "bad_answer",
        message: "The server's answer is not an SDP answer",
      });
    }
    return answer;
  }
}

/** A successful exchange, whichever way it went. */
export interface Answer {
  sdp: string;
  call_id: string;
  backend: Backend;
}

export type Exchange = (
  sdp: string,
  session: Record<string, unknown>,
  local?: LocalOptions,
) => Promise<Answer>;

function checkSdp(sdp: unknown): string {
  if (typeof sdp !== "string" || !sdp.startsWith("v=0")) {
    throw new SignalingError({
      status: 502,
      code: "bad_answer",
      message: "The answer is not an SDP answer",
    });
  }
  return sdp;
}

/**
 * `server` signaling: POST to the extension; the backend is the one its status reported
 * (unknown, `""`, when a Hub service had not said where its calls go).
 */
export function serverExchange(client: ExtensionClient, status: ServerStatus): Exchange {
  const backend = status.backend === "hub" ? "" : status.backend;
  return async (sdp, session, local) => {
    const answer = await client.createCall(sdp, session, local);
    return { sdp: answer.sdp, call_id: answer.call_id ?? "", backend };
  };
}

export type ChosenRoute =
  | { mode: "server"; status: ServerStatus }
  | { mode: "kernel"; reason: string };

/** How old a status answer a connect may use (the widget fetches one when it appears). */
export const STATUS_MAX_AGE_MS = 30_000;

/**
 * Resolve the `signaling` trait. `auto` uses the server when `GET …/status` answers, otherwise
 * (no page config, 404, network or any other error) the kernel. `server` reads the status too,
 * for the backend, and its failure is the user's error.
 */
export async function chooseRoute(
  mode: SignalingMode,
  client: ExtensionClient,
  pageConfig: boolean = hasPageConfig(),
): Promise<ChosenRoute> {
  if (mode === "kernel") return { mode: "kernel", reason: "signaling='kernel'" };
  if (mode === "server") return { mode: "server", status: await client.status(STATUS_MAX_AGE_MS) };
  if (!pageConfig) return { mode: "kernel", reason: "no Jupyter page config" };
  try {
    return { mode: "server", status: await client.status(STATUS_MAX_AGE_MS) };
  } catch (err) {
    return { mode: "kernel", reason: err instanceof Error ? err.message : String(err) };
  }
}

let lastId = 0;
function newOfferId(): string {
  lastId += 1;
  return globalThis.crypto?.randomUUID?.() ?? `offer-${Date.now()}-${lastId}`;
}

interface PendingOffer {
  resolve: (answer: Answer) => void;
  reject: (error: unknown) => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * `kernel` signaling: send `{kind: "offer", id, sdp, session}` and wait for the matching
 * `{kind: "answer", id}` (fed in with `receive`), or time out.
 */
export class KernelRelay {
  private readonly pending = new Map<string, PendingOffer>();
  private readonly send: (msg: WidgetMessage) => void;
  private readonly timeoutMs: number;

  constructor(send: (msg: WidgetMessage) => void, timeoutMs = 30_000) {
    this.send = send;
    this.timeoutMs = timeoutMs;
  }

  readonly exchange: Exchange = (sdp, session, local) =>
    new Promise<Answer>((resolve, reject) => {
      const id = newOfferId();
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new SignalingError({
            status: 504,
            code: "kernel_timeout",
            message: `The kernel did not answer the offer within ${Math.round(this.timeoutMs / 1000)} s`,
          }),
        );
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.send(
        local ? { kind: "offer", id, sdp, session, local } : { kind: "offer", id, sdp, session },
      );
    });

  /** Complete the offer an answer belongs to; returns false for an unknown or late id. */
  receive(msg: AnswerMessage): boolean {
    const offer = this.pending.get(msg.id);
    if (!offer) return false;
    this.pending.delete(msg.id);
    clearTimeout(offer.timer);
    if ("error" in msg) {
      offer.reject(new SignalingError(msg.error));
      return true;
    }
    try {
      offer.resolve({ sdp: checkSdp(msg.sdp), call_id: msg.call_id, backend: msg.backend });
    } catch (err) {
      offer.reject(err);
    }
    return true;
  }

  /** Abandon every pending offer (on disconnect). */
  cancel(): void {
    for (const [id, offer] of this.pending) {
      clearTimeout(offer.timer);
      offer.reject(new SignalingError({ status: 0, code: "cancelled", message: "Disconnected" }));
      this.pending.delete(id);
    }
  }
}

/** What negotiation needs from a peer connection. */
export interface OfferingPeer {
  createOffer(): Promise<string>;
  accept(answerSdp: string): Promise<void>;
}

/**
 * Offer, exchange, accept. Any failure of the exchange throws before `accept`, so an HTTP or
 * kernel error is never handed to setRemoteDescription.
 */
export async function negotiate(
  peer: OfferingPeer,
  exchange: Exchange,
  session: Record<string, unknown>,
  local?: LocalOptions,
): Promise<Answer> {
  const offer = await peer.createOffer();
  const answer = await exchange(offer, session, local);
  await peer.accept(checkSdp(answer.sdp));
  return answer;
}
