// When a session about to expire moves to a new call: at a quiet moment, never mid-reply.
//
// The move is planned with a fifth of the session (at most 30 s) left. From then on it waits
// until no response is in progress or playing and the user is not speaking, but only until a
// hard deadline shortly before `expires_at`: then it goes anyway.

import type { EventEntry } from "./generated/protocol";
import type { Playback } from "./ptt";
import { SILENT, trackPlayback } from "./ptt";

/** Plan the rollover this long before the session expires (or with a fifth of it left). */
export const ROLLOVER_MARGIN_MS = 30_000;
/** Roll over at the latest this long before it expires (or with half the margin left). */
export const ROLLOVER_DEADLINE_MS = 5_000;

export interface RolloverPlan {
  /** From now until the planned moment. */
  waitMs: number;
  /** From now until the hard deadline. */
  deadlineMs: number;
}

/** When to roll over a session that expires in `leftMs`. */
export function rolloverPlan(leftMs: number): RolloverPlan {
  const left = Math.max(0, leftMs);
  const margin = Math.min(ROLLOVER_MARGIN_MS, left * 0.2);
  return { waitMs: left - margin, deadlineMs: left - Math.min(ROLLOVER_DEADLINE_MS, margin / 2) };
}

/** What a rollover now would cut off: the model talking (js/ptt.ts's playback), or the user. */
export interface Busy extends Playback {
  /** The user speaks (`speech_started` without `speech_stopped`). */
  speaking: boolean;
}

export const QUIET: Busy = { ...SILENT, speaking: false };

export const isQuiet = (busy: Busy): boolean =>
  !busy.responseActive && !busy.audioPlaying && !busy.speaking;

export function reduceBusy(busy: Busy, entry: EventEntry): Busy {
  if (entry.dir !== "server") return busy;
  switch (entry.event.type) {
    case "session.created":
      return QUIET; // a new call
    case "input_audio_buffer.speech_started":
      return { ...busy, speaking: true };
    case "input_audio_buffer.speech_stopped":
      return { ...busy, speaking: false };
    default: {
      const playback = trackPlayback(busy, entry.event);
      return playback === busy ? busy : { ...busy, ...playback };
    }
  }
}

/** Calls `rollOver` at the first quiet moment after the planned one, or at the deadline. */
export class QuietRollover {
  busy: Busy = QUIET;
  /** The planned moment has passed: waiting for a quiet one. */
  due = false;
  private planned: ReturnType<typeof setTimeout> | undefined;
  private deadline: ReturnType<typeof setTimeout> | undefined;
  private readonly rollOver: () => void;

  constructor(rollOver: () => void) {
    this.rollOver = rollOver;
  }

  /** Plan the rollover of a session that expires in `leftMs` (replacing any plan). */
  schedule(leftMs: number): void {
    this.cancel();
    const plan = rolloverPlan(leftMs);
    this.planned = setTimeout(() => {
      this.planned = undefined;
      this.due = true;
      if (isQuiet(this.busy)) this.fire();
    }, plan.waitMs);
    this.deadline = setTimeout(() => this.fire(), plan.deadlineMs);
  }

  /** Every entry of the current call, in order. */
  observe(entry: EventEntry): void {
    this.busy = reduceBusy(this.busy, entry);
    if (this.due && isQuiet(this.busy)) this.fire();
  }

  cancel(): void {
    if (this.planned !== undefined) clearTimeout(this.planned);
    if (this.deadline !== undefined) clearTimeout(this.deadline);
    this.planned = undefined;
    this.deadline = undefined;
    this.due = false;
  }

  private fire(): void {
    this.cancel();
    this.rollOver();
  }
}
