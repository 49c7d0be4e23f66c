// The connection state machine: pure transitions plus a small runner that owns the grace timer.
//
//   idle/closed/error --connect--> connecting --session_created--> connected
//   connected --ice_disconnected--> interrupted --ice_recovered--> connected
//   connected/interrupted --lost--> reconnecting  (a new call with the same session, replayed)
//   interrupted --grace_expired--> reconnecting   (ICE did not come back in time)
//   reconnecting --lost--> reconnecting (next attempt), --session_created--> connected
//   connecting/connected/interrupted/reconnecting --close--> closed, --fail--> error

import type { Status } from "./generated/protocol";

export type ConnectionEvent =
  | { type: "connect" }
  | { type: "session_created" }
  | { type: "ice_disconnected" }
  | { type: "ice_recovered" }
  | { type: "grace_expired" }
  | { type: "lost" }
  | { type: "close" }
  | { type: "fail" };

const TABLE: Record<Status, Partial<Record<ConnectionEvent["type"], Status>>> = {
  idle: { connect: "connecting" },
  closed: { connect: "connecting" },
  error: { connect: "connecting" },
  connecting: { session_created: "connected", close: "closed", fail: "error" },
  connected: {
    ice_disconnected: "interrupted",
    lost: "reconnecting",
    close: "closed",
    fail: "error",
  },
  interrupted: {
    ice_recovered: "connected",
    grace_expired: "reconnecting",
    lost: "reconnecting",
    close: "closed",
    fail: "error",
  },
  reconnecting: {
    session_created: "connected",
    lost: "reconnecting",
    close: "closed",
    fail: "error",
  },
};

const LIVE: readonly Status[] = ["connecting", "connected", "interrupted", "reconnecting"];

/** Whether a call is under way (setting up, up, recovering, or being replaced). */
export function isLive(status: Status | undefined): boolean {
  return status !== undefined && LIVE.includes(status);
}

/** The next state, or `undefined` when the event is not allowed in `state`. */
export function transition(state: Status, event: ConnectionEvent): Status | undefined {
  return TABLE[state][event.type];
}

export interface MachineOptions {
  /** How long `interrupted` waits for ICE to recover before giving up. */
  graceMs?: number;
  onChange?: (next: Status, previous: Status, event: ConnectionEvent) => void;
  /** Told about ignored events (not an error: e.g. a second Connect click). */
  onIgnored?: (state: Status, event: ConnectionEvent) => void;
}

export class ConnectionMachine {
  private current: Status = "idle";
  private graceTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly options: MachineOptions;

  constructor(options: MachineOptions = {}) {
    this.options = options;
  }

  get state(): Status {
    return this.current;
  }

  /** Apply an event; returns whether it was allowed. Illegal events change nothing. */
  dispatch(event: ConnectionEvent): boolean {
    const previous = this.current;
    const next = transition(previous, event);
    if (next === undefined) {
      this.options.onIgnored?.(previous, event);
      return false;
    }
    this.current = next;
    if (next === "interrupted") {
      this.graceTimer = setTimeout(() => {
        this.graceTimer = undefined;
        this.dispatch({ type: "grace_expired" });
      }, this.options.graceMs ?? 5000);
    } else {
      this.clearGrace();
    }
    this.options.onChange?.(next, previous, event);
    return true;
  }

  dispose(): void {
    this.clearGrace();
  }

  private clearGrace(): void {
    if (this.graceTimer !== undefined) clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
  }
}
