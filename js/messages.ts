// Checking the kernel's messages, and the `send` + `binary` rule. The message and event types
// are generated from the schema (js/generated/protocol.ts); realtime payloads keep their `type`.

import type {
  Backend,
  BinaryTarget,
  CallError,
  KernelMessage,
  RealtimeEvent,
} from "./generated/protocol";

/** Where a kernel-relayed call may have gone. */
const BACKENDS: readonly Backend[] = ["openai", "local", "hub"];

export type ClientEvent = RealtimeEvent;
export type ServerEvent = RealtimeEvent;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function isRealtimeEvent(value: unknown): value is RealtimeEvent {
  return isObject(value) && typeof value.type === "string";
}

function parseBinary(value: unknown): BinaryTarget | null {
  if (!isObject(value) || typeof value.mime !== "string" || !Array.isArray(value.path)) {
    return null;
  }
  const path = value.path.filter((k) => typeof k === "string" || typeof k === "number");
  return path.length === value.path.length && path.length > 0 ? { path, mime: value.mime } : null;
}

function parseCallError(value: unknown): CallError {
  const error = isObject(value) ? value : {};
  return {
    status: typeof error.status === "number" ? error.status : 0,
    code: typeof error.code === "string" ? error.code : "error",
    message: typeof error.message === "string" ? error.message : "The kernel refused the offer",
    ...(typeof error.param === "string" ? { param: error.param } : {}),
  };
}

/** A kernel message, checked; `null` for anything malformed or unknown (ignored, never thrown). */
export function parseKernelMessage(msg: unknown): KernelMessage | null {
  if (!isObject(msg)) return null;
  switch (msg.kind) {
    case "connect":
    case "disconnect":
      return { kind: msg.kind };
    case "send": {
      if (!isRealtimeEvent(msg.event)) return null;
      if (msg.binary === undefined || msg.binary === null)
        return { kind: "send", event: msg.event };
      const binary = parseBinary(msg.binary);
      return binary ? { kind: "send", event: msg.event, binary } : null;
    }
    case "replay": {
      const events = Array.isArray(msg.events) ? msg.events : null;
      if (!events?.every(isRealtimeEvent)) return null;
      return { kind: "replay", events };
    }
    case "answer": {
      if (typeof msg.id !== "string") return null;
      if (msg.error !== undefined && msg.error !== null) {
        return { kind: "answer", id: msg.id, error: parseCallError(msg.error) };
      }
      if (typeof msg.sdp !== "string") {
        return { kind: "answer", id: msg.id, error: parseCallError({ code: "bad_answer" }) };
      }
      const backend = BACKENDS.includes(msg.backend as Backend) ? (msg.backend as Backend) : "";
      const callId = typeof msg.call_id === "string" ? msg.call_id : "";
      return { kind: "answer", id: msg.id, sdp: msg.sdp, call_id: callId, backend };
    }
    case "file": {
      if (typeof msg.id !== "string") return null;
      if (isObject(msg.error)) {
        const message = typeof msg.error.message === "string" ? msg.error.message : "refused";
        const code = typeof msg.error.code === "string" ? msg.error.code : "download_failed";
        return { kind: "file", id: msg.id, error: { code, message } };
      }
      if (typeof msg.name !== "string" || typeof msg.mime !== "string") return null;
      return { kind: "file", id: msg.id, name: msg.name, mime: msg.mime };
    }
    default:
      return null;
  }
}

/** Standard base64 of some bytes (chunked so large images do not overflow the call stack). */
export function base64(bytes: Uint8Array): string {
  let binary = "";
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return btoa(binary);
}

function asBytes(buffer: DataView | ArrayBuffer | ArrayBufferView): Uint8Array {
  if (buffer instanceof ArrayBuffer) return new Uint8Array(buffer);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/**
 * The `send` + `binary` rule: a copy of `event` with `data:<mime>;base64,…` of the buffer's bytes
 * written at `path`. Missing containers along the path are created (an array when the next key
 * is a number); a path through a non-container throws.
 */
export function withDataUrl(
  event: ClientEvent,
  binary: BinaryTarget,
  buffer: DataView | ArrayBuffer | ArrayBufferView,
): ClientEvent {
  const url = `data:${binary.mime};base64,${base64(asBytes(buffer))}`;
  const copy = structuredClone(event);
  let node: Record<string | number, unknown> = copy;
  binary.path.forEach((key, i) => {
    if (i === binary.path.length - 1) {
      node[key] = url;
      return;
    }
    if (node[key] === undefined || node[key] === null) {
      node[key] = typeof binary.path[i + 1] === "number" ? [] : {};
    }
    const next = node[key];
    if (typeof next !== "object" || next === null) {
      throw new TypeError(`binary.path ${JSON.stringify(binary.path)} crosses a non-object`);
    }
    node = next as Record<string | number, unknown>;
  });
  return copy;
}
