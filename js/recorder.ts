// Records a MediaStream as 24 kHz PCM16 chunks for the kernel (RealtimeSession.recordings).

import { now } from "./clock";

export const RECORD_RATE = 24000;
const CHUNK_MS = 500;

const TAP_PROCESSOR = `
class RtnbTap extends AudioWorkletProcessor {
  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel) this.port.postMessage(channel.slice(0));
    return true;
  }
}
registerProcessor("rtnb-tap", RtnbTap);
`;

/** Float samples at `fromRate` → Int16 at 24 kHz (box filter for whole ratios, else linear). */
export function toPcm16(samples: Float32Array, fromRate: number): Int16Array {
  const ratio = fromRate / RECORD_RATE;
  const length = Math.floor(samples.length / ratio);
  const out = new Int16Array(length);
  const whole = Number.isInteger(ratio);
  for (let i = 0; i < length; i++) {
    let value: number;
    if (whole) {
      let sum = 0;
      for (let k = 0; k < ratio; k++) sum += samples[i * ratio + k] ?? 0;
      value = sum / ratio;
    } else {
      const x = i * ratio;
      const j = Math.floor(x);
      const a = samples[j] ?? 0;
      const b = samples[j + 1] ?? a;
      value = a + (b - a) * (x - j);
    }
    out[i] = Math.max(-32768, Math.min(32767, Math.round(value * 32768)));
  }
  return out;
}

/** Collects blocks and emits ~500 ms chunks stamped with their first sample's epoch time. */
export class ChunkCollector {
  private blocks: Float32Array[] = [];
  private samples = 0;
  private start: number | null = null;
  private readonly rate: number;
  private readonly emit: (pcm: Int16Array, t: number) => void;

  constructor(rate: number, emit: (pcm: Int16Array, t: number) => void) {
    this.rate = rate;
    this.emit = emit;
  }

  /** A block that has just been captured (its last sample is "now"). */
  push(block: Float32Array, at: number = now()): void {
    this.start ??= at - (block.length / this.rate) * 1000;
    this.blocks.push(block);
    this.samples += block.length;
    if ((this.samples / this.rate) * 1000 >= CHUNK_MS) this.flush();
  }

  flush(): void {
    if (!this.samples || this.start === null) return;
    const joined = new Float32Array(this.samples);
    let offset = 0;
    for (const block of this.blocks) {
      joined.set(block, offset);
      offset += block.length;
    }
    const start = this.start;
    this.blocks = [];
    this.samples = 0;
    this.start = null;
    this.emit(toPcm16(joined, this.rate), start);
  }
}

/** Taps a stream with an AudioWorklet (ScriptProcessor where worklets are unavailable). */
export class Recorder {
  private readonly nodes: AudioNode[] = [];
  private readonly collector: ChunkCollector;
  private stopped = false;

  constructor(ctx: AudioContext, stream: MediaStream, emit: (pcm: Int16Array, t: number) => void) {
    this.collector = new ChunkCollector(ctx.sampleRate, emit);
    const source = ctx.createMediaStreamSource(stream);
    const silent = ctx.createGain();
    silent.gain.value = 0; // pulled by the graph, heard by no one
    silent.connect(ctx.destination);
    this.nodes.push(source, silent);
    this.attach(ctx, source, silent).catch(() => undefined);
  }

  private async attach(ctx: AudioContext, source: AudioNode, sink: AudioNode): Promise<void> {
    try {
      const url = URL.createObjectURL(new Blob([TAP_PROCESSOR], { type: "text/javascript" }));
      await ctx.audioWorklet.addModule(url);
      URL.revokeObjectURL(url);
      if (this.stopped) return;
      const tap = new AudioWorkletNode(ctx, "rtnb-tap");
      tap.port.onmessage = (e: MessageEvent<Float32Array>) => this.collector.push(e.data);
      source.connect(tap);
      tap.connect(sink);
      this.nodes.push(tap);
    } catch {
      if (this.stopped) return;
      const processor = ctx.createScriptProcessor(2048, 1, 1);
      processor.onaudioprocess = (e) =>
        this.collector.push(e.inputBuffer.getChannelData(0).slice(0));
      source.connect(processor);
      processor.connect(sink);
      this.nodes.push(processor);
    }
  }

  stop(): void {
    this.stopped = true;
    this.collector.flush();
    for (const node of this.nodes) node.disconnect();
  }
}
