// Generated from src/rt_notebook/wire/widget_protocol.py by scripts/gen_protocol.py: do not edit.
// The widget ⇄ kernel protocol and the server's bodies: see docs/widget-protocol.md.

/**
 * Connection state of the widget's call (`reconnecting`: the connection was lost and a new call
 * with the same session is being set up; the conversation is replayed into it).
 */
export type Status =
  | "idle"
  | "connecting"
  | "connected"
  | "interrupted"
  | "reconnecting"
  | "closed"
  | "error";

/** How the SDP offer is exchanged: the server extension, the kernel, or whichever works. */
export type SignalingMode = "auto" | "server" | "kernel";

/** Where a call goes: OpenAI, or rt_notebook's local backend. */
export type BackendName = "openai" | "local";

/**
 * The `backend` trait: `""` until a call has been answered; `"hub"` when the kernel relayed it to a
 * JupyterHub class service.
 */
export type Backend = "" | "hub" | BackendName;

/** The server extension's `backend` option. */
export type BackendSetting = "auto" | "openai" | "local" | "hub";

/** Which of OpenAI's voice APIs a session speaks: Realtime, or GPT-Live (`gpt-live-*`). */
export type WireProtocol = "realtime" | "live";

/** Who sent an event: the API (`server`) or the client. */
export type Direction = "server" | "client";

/** A recorded audio track. */
export type Track = "mic" | "assistant";

/**
 * Who exchanged the current call's offer: the server extension, the kernel (asked for), or the
 * kernel because the server extension did not answer (`kernel-fallback`); `""` before.
 */
export type Route = "" | "server" | "kernel" | "kernel-fallback";

/** How a turn ends: the server's voice activity detection, its semantic one, or a held button. */
export type TurnMode = "server_vad" | "semantic_vad" | "push_to_talk";

/** What the widget can download from the kernel's copy of the session. */
export type DownloadKind =
  | "transcript.md"
  | "transcript.jsonl"
  | "events.jsonl"
  | "mic.wav"
  | "assistant.wav";

/**
 * Any GA realtime event on the `oai-events` channel, in either direction (a string `type` and the
 * event's own fields).
 */
export type RealtimeEvent = { type: string; [key: string]: unknown };

/** What went wrong and, when known, how to fix it (the `error` trait). */
export type WidgetError = {
  code: string;
  message: string;
  fix?: string;
};

/** getUserMedia's audio processing switches. */
export type AudioConstraints = {
  echoCancellation?: boolean;
  noiseSuppression?: boolean;
  autoGainControl?: boolean;
};

/** Options for the local backend, sent with the offer (OpenAI never sees them). */
export type LocalOptions = {
  scenario?: unknown[];
};

/**
 * The session's running usage, priced by the kernel (`s.cost()`): tokens in and out, USD, and
 * whether any of it is estimated.
 */
export type CostFigures = {
  input_tokens: number;
  output_tokens: number;
  usd: number;
  estimated: boolean;
};

/** What the widget does when a call is lost or about to expire. */
export type Continuity = {
  attempts?: number;
  rollover?: boolean;
};

/** One entry of an `events` batch: who sent it, when (browser epoch ms), and what. */
export type EventEntry = {
  dir: Direction;
  t: number;
  event: RealtimeEvent;
};

/** Where `send` writes its buffer as a data URL: keys and indices into `event`. */
export type BinaryTarget = {
  path: (string | number)[];
  mime: string;
};

/** A refusal, as the server extension and the kernel relay describe it. */
export type ErrorDetail = {
  code: string;
  message: string;
  param?: string;
};

/** A failed offer exchange: the HTTP status (0 when none) and the refusal. */
export type CallError = {
  code: string;
  message: string;
  param?: string;
  status: number;
};

/** Start a session (same as the Connect button). */
export type ConnectMessage = {
  kind: "connect";
};

/** Close it (same as the Disconnect button). */
export type DisconnectMessage = {
  kind: "disconnect";
};

/**
 * Send `event` on `oai-events` (queued until the channel is open). With `binary` and one buffer,
 * the buffer's bytes become a `data:<mime>;base64,…` URL written at `path` first, so bulky images
 * cross the comm as binary.
 */
export type SendMessage = {
  kind: "send";
  event: RealtimeEvent;
  binary?: BinaryTarget;
};

/**
 * After a reconnect (the `rt_notebook.reconnected` event): the conversation so far, as client
 * events, sent into the new call before anything the kernel sent meanwhile.
 */
export type ReplayMessage = {
  kind: "replay";
  events: RealtimeEvent[];
};

/** Completes a kernel-relayed offer: the SDP answer, the call and where it went. */
export type AcceptedAnswer = {
  kind: "answer";
  id: string;
  sdp: string;
  call_id: string;
  backend: Backend;
};

/** Fails a kernel-relayed offer; the widget shows the error and never hands it to WebRTC. */
export type RefusedAnswer = {
  kind: "answer";
  id: string;
  error: CallError;
};

/** The kernel's reply to an `offer`, sent whatever happened. */
export type AnswerMessage = AcceptedAnswer | RefusedAnswer;

/** Answers `download`: the file as the one buffer, with its name and type. */
export type FileMessage = {
  kind: "file";
  id: string;
  name: string;
  mime: string;
};

/** Answers `download` when there is nothing to give (e.g. no recording). */
export type FileRefused = {
  kind: "file";
  id: string;
  error: WidgetError;
};

/** Every custom message the kernel sends the widget. */
export type KernelMessage =
  | ConnectMessage
  | DisconnectMessage
  | SendMessage
  | ReplayMessage
  | AnswerMessage
  | FileMessage
  | FileRefused;

/**
 * Every data-channel event in both directions, in order; `t` is the browser's epoch time in ms
 * (`performance.timeOrigin + performance.now()`). Batched without delay while the kernel keeps up:
 * events go in the next task while fewer than 2 sends await the kernel's ack (its idle status), so
 * the events of one network read (a function call's) go in one message; beyond that, events are
 * grouped until an ack comes, at most 50 ms after the last send (or 200 at a time);
 * `session.created`, `response.function_call_arguments.done`, `response.done` and `error` go at
 * once with everything before them, whatever awaits its ack. Bursts neither flood the comm nor
 * reorder. For these messages the kernel publishes `idle` but no `busy` unless a cell runs, so a
 * call does not make the kernel indicator flicker.
 */
export type EventsMessage = {
  kind: "events";
  batch: EventEntry[];
};

/** Kernel relay: please exchange this offer (below); answered by `answer` with the same `id`. */
export type OfferMessage = {
  kind: "offer";
  id: string;
  sdp: string;
  session: Record<string, unknown>;
  local?: LocalOptions;
};

/**
 * About 500 ms of recorded audio as its one buffer: PCM16 mono 24 kHz; `t` is the epoch ms of its
 * first sample (AudioWorklet, ScriptProcessor fallback).
 */
export type AudioMessage = {
  kind: "audio";
  track: Track;
  t: number;
};

/**
 * Ask the kernel for a file of the session (its full transcript, event log or a recording);
 * answered by `file` with the same `id`.
 */
export type DownloadMessage = {
  kind: "download";
  id: string;
  what: DownloadKind;
};

/**
 * The settings form (before connecting): the kernel validates the change with the session's own
 * validator and updates `session_config` (and `push_to_talk`), or sets `error` with the fix.
 */
export type ConfigureMessage = {
  kind: "configure";
  voice?: string;
  instructions?: string;
  turn_mode?: TurnMode;
};

/** Every custom message the widget sends the kernel. */
export type WidgetMessage =
  | EventsMessage
  | OfferMessage
  | AudioMessage
  | DownloadMessage
  | ConfigureMessage;

/** What a JupyterHub class service lets the user spend still (`null`: no limit). */
export type HubRemaining = {
  usd_today: number | null;
  usd_term: number | null;
  minutes_today: number | null;
};

/**
 * With `backend="hub"`: the class service's word on the user's rules and what is left, or the error
 * asking it.
 */
export type HubBudget = {
  user?: string;
  remaining?: HubRemaining;
  error?: ErrorDetail;
};

/**
 * A deprecated model the server's configuration names: when OpenAI shuts it down and what replaces
 * it.
 */
export type ModelNotice = {
  model: string;
  kind: "realtime" | "transcription";
  shutdown: string;
  replacement: string;
  shut_down: boolean;
  message: string;
};

/**
 * `GET api/rt-notebook/status`: what the widget needs to know before connecting. With
 * `backend_setting: "hub"`, `backend` is the class service's (`"hub"` while it cannot be asked) and
 * `budget` what the service says is left, or `{error}`.
 */
export type ServerStatus = {
  backend: BackendName | "hub";
  backend_setting: BackendSetting;
  key_configured: boolean;
  allowed_models: string[];
  session_defaults: Record<string, unknown>;
  overridden_fields: string[];
  default_model: string;
  model_notices: ModelNotice[];
  version: string;
  budget?: HubBudget;
};

/** `POST api/rt-notebook/calls`: an SDP offer and the session to create. */
export type CallRequest = {
  sdp: string;
  session: Record<string, unknown>;
  local?: LocalOptions;
};

/** The `201` answer to `POST api/rt-notebook/calls`. */
export type CallAnswer = {
  sdp: string;
  call_id: string | null;
  session: Record<string, unknown>;
};

/**
 * `GET api/rt-notebook/calls/{call_id}` (`backend="hub"` only): the class service's record of a
 * call; `end_code` says why it ended.
 */
export type CallRecord = {
  call_id: string;
  end_code: string | null;
  end_message: string | null;
};

/** Every error answer of the server extension (shaped like OpenAI's). */
export type ErrorBody = {
  error: ErrorDetail;
};

/** The widget's synced traits (snake_case on both sides). */
export type WidgetModel = {
  /**
   * the session, already validated: a flat GA one (`{"type": "realtime", …}`) or a GPT-Live one
   * (`{"model": "gpt-live-1", …}`); sent with the offer; written by Python.
   */
  session_config: Record<string, unknown>;
  /**
   * the session's protocol: GPT-Live's data channel speaks other events (§9 of live-protocol.md),
   * and its offer waits for ICE gathering; written by Python.
   */
  protocol: WireProtocol;
  /** how the offer is exchanged (below); written by Python. */
  signaling: SignalingMode;
  /** connection state; written by JS. */
  status: Status;
  /** the last error, shown in the widget with its fix; written by both. */
  error: WidgetError | null;
  /**
   * a lasting notice (a deprecated model: its shutdown date and replacement), shown as a banner;
   * `""` when none; written by Python.
   */
  notice: string;
  /** where the session went; the UI shows a banner for `local`; written by JS. */
  backend: Backend;
  /** the `rtc_…` id of the current call (`""` when none); written by JS. */
  call_id: string;
  /** microphone track disabled; written by both. */
  muted: boolean;
  /** the UI shows a hold-to-talk button instead of an open microphone; written by Python. */
  push_to_talk: boolean;
  /** the chosen microphone `deviceId` (`""` = default); written by both. */
  mic_device_id: string;
  /** getUserMedia's audio processing switches; written by Python. */
  audio_constraints: AudioConstraints;
  /** send microphone and assistant audio to the kernel (`audio` messages); written by Python. */
  record_audio: boolean;
  /**
   * reconnect attempts after a lost connection, and rollover before the session expires; written by
   * Python.
   */
  continuity: Continuity;
  /**
   * sent with the offer as `local`; scripts the call when it lands on the local backend; written by
   * Python.
   */
  local_options: LocalOptions;
  /**
   * who exchanged the offer; with `kernel-fallback` the widget says the server extension is missing
   * and how to install it (`s.signaling_path` in Python); written by JS.
   */
  route: Route;
  /**
   * the built-in voices (`session_config.VOICES`), offered by the settings form; any other is
   * checked by the kernel; written by Python.
   */
  voices: string[];
  /** the running tokens and USD of the session, updated after each response; written by Python. */
  cost: CostFigures | null;
};
