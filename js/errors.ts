// Every failure the widget can meet, as `{code, message, fix}` for the `error` trait and the UI.

import type { WidgetError } from "./generated/protocol";
import { SignalingError } from "./signaling";

/** Where the offer went (or was going), which decides where a key or server problem lives. */
export type Route = "server" | "kernel";

/** A failure the widget detected itself, already described. */
export class WidgetFailure extends Error {
  readonly detail: WidgetError;

  constructor(detail: WidgetError) {
    super(detail.message);
    this.name = "WidgetFailure";
    this.detail = detail;
  }
}

export const INSECURE_CONTEXT: WidgetError = {
  code: "insecure_context",
  message: "The microphone is only available on a secure page (https:// or http://localhost)",
  fix: "Open Jupyter over https://, or at http://localhost / http://127.0.0.1 (e.g. through an SSH tunnel), then connect again",
};

export const AUTOPLAY_BLOCKED: WidgetError = {
  code: "autoplay_blocked",
  message: "The browser blocked the model's audio until you interact with the page",
  fix: "Click “Enable sound” in the widget",
};

const where = (route: Route): string =>
  route === "server" ? "the Jupyter server" : "the kernel's environment";

const KEY_FIX = (route: Route): string =>
  route === "server"
    ? "Give the Jupyter server a valid key (OPENAI_API_KEY=sk-… jupyter lab, or --RealtimeExtension.api_key_file=…) and restart it"
    : "Set a valid OPENAI_API_KEY in the kernel's environment and restart the kernel";

/** Fixes for the stable codes of the server extension, the kernel relay and the widget. */
/** The session paths a session's keywords fill in, named as the user wrote them. */
const KEYWORDS: [string, string][] = [
  ["session.model", "model="],
  ["session.audio.output.voice", "voice="],
  ["session.instructions", "instructions="],
  ["session.audio.input.turn_detection", "turn_detection="],
  ["session.audio.input.transcription", "transcription="],
];

/** `model=` for session.model; other fields as `session={…}` paths. */
export function userWords(param: string | undefined): string {
  if (!param) return "the session's settings";
  const keyword = KEYWORDS.find(([path]) => param === path || param.startsWith(`${path}.`));
  return keyword
    ? `${keyword[1]} (${param})`
    : `session= field “${param.replace(/^session\./, "")}”`;
}

const FIXES: Record<string, (route: Route, param?: string) => string> = {
  openai_key_rejected: KEY_FIX,
  no_api_key: KEY_FIX,
  openai_quota_exceeded: () =>
    "Check the OpenAI project's billing and usage limits (platform.openai.com), then connect again",
  openai_rate_limited: () => "OpenAI is rate-limiting this key: wait a minute, then connect again",
  rate_limited: () =>
    "Wait a minute, then connect again (the server's limit is RealtimeExtension.rate_limit_per_minute)",
  upstream_unreachable: (route) =>
    `Check that ${where(route)} can reach OpenAI (internet access, proxy, RealtimeExtension.api_base_url)`,
  upstream_timeout: (route) =>
    `OpenAI did not answer in time: check the network of ${where(route)} and connect again`,
  unreachable: () =>
    "Check that the Jupyter server is still running and reachable, reload the page, then connect again",
  extension_missing: () =>
    "Enable the extension (jupyter server extension enable rt_notebook) and restart Jupyter, or use signaling='kernel'",
  invalid_session: (_route, param) => `Correct ${userWords(param)}, then connect again`,
  kernel_timeout: () =>
    "Make sure the kernel is running and idle (a running cell holds widget messages back), then connect again",
  bad_answer: (route) => `Check the logs of ${where(route)}; the offer exchange returned garbage`,
  local_backend_unavailable: KEY_FIX,
  budget_exhausted: () =>
    "Ask your teacher for more budget, or wait until it renews; your work in the notebook is kept",
  ended_by_teacher: () => "Connect again when your teacher says so",
  too_many_calls: () =>
    "Disconnect your other voice session (another notebook or tab), then connect again",
  not_in_class: () => "Ask your teacher to add you to the class's JupyterHub group",
  no_access: () => "Ask your teacher or the Hub's admin to give you access to the voice service",
  hub_service_unreachable: () =>
    "The class's voice service is not answering: tell your teacher or the Hub's admin",
};

/** Names of getUserMedia's DOMExceptions, with what they mean here. */
const MEDIA_ERRORS: Record<string, WidgetError> = {
  NotAllowedError: {
    code: "mic_denied",
    message: "Microphone access was denied",
    fix: "Allow the microphone for this page (the icon at the left of the address bar, or the browser's site settings), then connect again",
  },
  SecurityError: {
    code: "mic_denied",
    message: "Microphone access is blocked for this page",
    fix: 'Allow the microphone in the browser\'s site settings (an iframe needs allow="microphone"), then connect again',
  },
  NotFoundError: {
    code: "no_microphone",
    message: "No microphone was found",
    fix: "Plug in or enable a microphone, then connect again",
  },
  OverconstrainedError: {
    code: "mic_unavailable",
    message: "The chosen microphone is not available",
    fix: 'Pick another microphone in the list (or set mic_device_id to "" for the default), then connect again',
  },
  NotReadableError: {
    code: "mic_busy",
    message: "The microphone could not be started (another application may be using it)",
    fix: "Close other applications that use the microphone, or pick another one, then connect again",
  },
};

function errorName(err: unknown): string | undefined {
  const name = (err as { name?: unknown } | null)?.name;
  return typeof name === "string" ? name : undefined;
}

/** Describe any thrown value for the `error` trait. */
export function describeError(err: unknown, route: Route): WidgetError {
  if (err instanceof WidgetFailure) return err.detail;
  if (err instanceof SignalingError) {
    if (err.code === "invalid_session") {
      const message =
        err.param && !err.message.includes(err.param)
          ? `${err.message} (${err.param})`
          : err.message;
      return { code: err.code, message, fix: FIXES.invalid_session?.(route, err.param) ?? "" };
    }
    const fix = FIXES[err.code]?.(route, err.param);
    return { code: err.code, message: err.message, ...(fix ? { fix } : {}) };
  }
  const name = errorName(err);
  const media = name ? MEDIA_ERRORS[name] : undefined;
  if (media) return media;
  const message = err instanceof Error ? err.message : String(err);
  return { code: "error", message: message || "Something went wrong" };
}
