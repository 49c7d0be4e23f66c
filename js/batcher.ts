// Ordered batching for the kernel: bursts neither flood the comm nor reorder, nothing is dropped.

export interface BatcherOptions {
  /** Send what is pending at most this long after the first entry arrived. */
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

  push(entry: T): void {
    this.pending.push(entry);
    if (this.pending.length >= this.maxSize) {
      this.flush();
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, this.intervalMs);
    }
  }

  /** Send everything pending now (also the thing to call on close). */
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
}
