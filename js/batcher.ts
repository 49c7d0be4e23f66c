// Ordered batching for the kernel: bursts neither flood the comm nor reorder, nothing is dropped,
// and an entry goes in the next task while the kernel keeps up (no added latency when there is no
// queue). Entries that arrive together (a function call's events come in one network read) go
// in one send: each send costs the kernel a message of its own, handled before the next.
// Like a transport window: up to `window` sends may await the kernel's ack; while that many do,
// entries are grouped until an ack frees a slot, or `intervalMs` after the last send (a busy
// kernel, or a frontend that never acks, gets one batch per interval). A send unacknowledged
// for `staleMs` stops counting, so the bookkeeping stays bounded.

export interface BatcherOptions {
  /** Sends that may await their ack before entries are grouped (2: each comm message costs
   * the kernel, the server and the page three messages, so more in flight measured slower). */
  window?: number;
  /** While the window is full, the longest an entry waits for the next send. */
  intervalMs?: number;
  /** Send at once when this many entries are pending. */
  maxSize?: number;
  /** A send unacknowledged this long no longer counts as awaiting. */
  staleMs?: number;
}

/** Sends one batch; calls `acked` once the receiver has handled it (optional). */
export type SendBatch<T> = (batch: T[], acked: () => void) => void;

export class Batcher<T> {
  private pending: T[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly sendBatch: SendBatch<T>;
  private readonly window: number;
  private readonly intervalMs: number;
  private readonly maxSize: number;
  private readonly staleMs: number;
  /** Sends awaiting their ack: id → when it went (in send order). */
  private readonly awaiting = new Map<number, number>();
  private sent = 0;
  private lastSend = 0;

  constructor(sendBatch: SendBatch<T>, options: BatcherOptions = {}) {
    this.sendBatch = sendBatch;
    this.window = Math.max(1, options.window ?? 2);
    this.intervalMs = options.intervalMs ?? 50;
    this.maxSize = options.maxSize ?? 200;
    this.staleMs = options.staleMs ?? 1000;
  }

  /** Queue an entry; `urgent` sends it (and everything before it) now, whatever awaits its
   * ack. */
  push(entry: T, urgent = false): void {
    this.pending.push(entry);
    if (urgent || this.pending.length >= this.maxSize) {
      this.flush();
    } else if (this.timer === undefined) {
      // A free slot: the next task, after the entries already queued for this page. None: the
      // interval (a slot frees only by an ack, which sends what waits at once).
      const wait =
        this.awaiting.size < this.window
          ? 0
          : Math.max(0, this.lastSend + this.intervalMs - Date.now());
      this.timer = setTimeout(() => this.flush(), wait);
    }
  }

  /** Send everything pending now (the thing to call on close). */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    const id = ++this.sent;
    this.lastSend = Date.now();
    for (const [old, at] of this.awaiting) {
      if (at > this.lastSend - this.staleMs) break; // the rest are newer
      this.awaiting.delete(old);
    }
    this.awaiting.set(id, this.lastSend);
    this.sendBatch(batch, () => this.acked(id));
  }

  get size(): number {
    return this.pending.length;
  }

  /** The receiver handled send `id`: a slot is free, so what waits goes now. */
  private acked(id: number): void {
    if (this.awaiting.delete(id) && this.pending.length > 0 && this.awaiting.size < this.window) {
      this.flush();
    }
  }
}
