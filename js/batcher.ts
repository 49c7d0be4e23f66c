// Ordered batching for the kernel: bursts neither flood the comm nor reorder, nothing is dropped,
// and an event after a quiet spell goes at once (no added latency when there is nothing to group).

export interface BatcherOptions {
  /** After a send, further entries are grouped for this long before the next send. */
  intervalMs?: number;
  /** Send at once when this many entries are pending. */
  maxSize?: number;
}

export class Batcher<T> {
  private pending: T[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly sendBatch: (batch: T[]) => void;
  private readonly intervalMs: number;
  private readonly maxSize: number;

  constructor(sendBatch: (batch: T[]) => void, options: BatcherOptions = {}) {
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
    this.sendBatch(batch);
  }

  get size(): number {
    return this.pending.length;
  }

  private send(): void {
    this.flush();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // Entries grouped during the window go now, and grouping goes on while they keep coming.
      if (this.pending.length > 0) this.send();
    }, this.intervalMs);
  }
}
