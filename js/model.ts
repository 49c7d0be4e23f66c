// The widget's synced traits, key for key as in docs/widget-protocol.md (snake_case).

export type Status = "idle" | "connecting" | "connected" | "interrupted" | "closed" | "error";
export type SignalingMode = "auto" | "server" | "kernel";
export type Backend = "" | "openai" | "local";

/** The `error` trait: what went wrong and, when we know it, how to fix it. */
export interface WidgetError {
  code: string;
  message: string;
  fix?: string;
}

export interface AudioConstraints {
  echoCancellation?: boolean;
  noiseSuppression?: boolean;
  autoGainControl?: boolean;
}

export interface WidgetModel {
  /** The flat GA session (`{"type": "realtime", …}`), sent with the offer. Python writes it. */
  session_config: Record<string, unknown>;
  /** How the SDP offer is exchanged. Python writes it. */
  signaling: SignalingMode;
  /** Connection state. JS writes it. */
  status: Status;
  /** The last error. Both sides write it. */
  error: WidgetError | null;
  /** Where the session went. JS writes it. */
  backend: Backend;
  /** The `rtc_…` id of the current call, `""` when none. JS writes it. */
  call_id: string;
  /** Microphone track disabled. Both sides write it. */
  muted: boolean;
  /** Show a hold-to-talk button instead of an open mic. Python writes it. */
  push_to_talk: boolean;
  /** The chosen microphone `deviceId`, `""` for the default. Both sides write it. */
  mic_device_id: string;
  /** getUserMedia audio processing switches. Python writes it. */
  audio_constraints: AudioConstraints;
  /** Send microphone and assistant audio to the kernel. */
  record_audio: boolean;
  /** `{scenario: [...]}`: scripted replies when the call lands on the local backend. */
  local_options: LocalOptions;
}

/** Options for the local backend, sent with the offer (ignored by OpenAI). */
export interface LocalOptions {
  scenario?: unknown[];
}
