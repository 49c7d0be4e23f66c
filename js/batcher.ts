// Ordered batching for the kernel: bursts neither flood the comm nor reorder, nothing is dropped,
// and an event after a quiet spell goes at once (no added latency when there is nothing to group).
// After a send, entries are grouped until the kernel has handled that send (its ack) or for
// `intervalMs`, whichever comes first: with a kernel that keeps up, grouping costs one round trip
// at most; without acks, it is a fixed window.

export interface BatcherOptions {
  /** After a send, further entries are grouped for at most this long before the next send. */
  intervalMs?: number;
  /** Send at once when this many entries are pending. */
  maxSize?: number;
}

/** Sends one batch; calls `acked` once the receiver has handled it (optional). */
export type SendBatch<T> = (batch: T[], acked: () => void) => void;

export class Batcher<T> {
  private pending: T[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly sendBatch: SendBatch<T>;
  private readonly intervalMs: number;
  private readonly maxSize: number;
  /** Sends so far, and the latest one acknowledged. */
  private sent = 0;
  private ackedSend = 0;

  constructor(sendBatch: SendBatch<T>, options: BatcherOptions = {}) {
    this.sendBatch = sendBatch;
    this.intervalMs = options.intervalMs ?? 50;
    this.maxSize = options.maxSize ?? 200;
  }

  /** Queue an entry; `urgent` sends it (and everything before it) now. */
  push(entry: T, urgent = false): void {
    this.pending.push(entry);
    // Idle (no grouping window open), urgent, or a full batch: send now, then group.
    if (urgent || this.timer === undefined || this.pending.length >= this.maxSize) this.send();
  }

  /** Send everything pending now and stop grouping (the thing to call on close). */
  flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    const id = ++this.sent;
    this.sendBatch(batch, () => this.acked(id));
  }

  get size(): number {
    return this.pending.length;
  }

  private send(): void {
    this.flush();
    if (this.ackedSend === this.sent) return; // handled already: nothing to wait for
    this.timer = setTimeout(() => this.windowEnd(), this.intervalMs);
  }

  private windowEnd(): void {
    this.timer = undefined;
    // Entries grouped during the window go now, and grouping goes on while they keep coming.
    if (this.pending.length > 0) this.send();
  }

  /** The receiver handled send `id`: when it is the latest, the window closes now. */
  private acked(id: number): void {
    this.ackedSend = Math.max(this.ackedSend, id);
    if (id !== this.sent || this.timer === undefined) return;
    clearTimeout(this.timer);
    this.windowEnd();
  }
}
