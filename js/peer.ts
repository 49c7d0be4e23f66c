// The WebRTC side of a call: microphone track, remote audio, and the `oai-events` data channel.
// No DOM here except the (detached) <audio> element that plays the model's voice.

import { now } from "./clock";
import type { AudioConstraints, EventEntry, Track } from "./generated/protocol";
import type { ClientEvent } from "./messages";
import { isRealtimeEvent } from "./messages";
import { Recorder } from "./recorder";
import { takeConnection } from "./spare";

export { now } from "./clock";

/** Root mean square of audio samples in [-1, 1]. */
export function rms(samples: Float32Array): number {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (const s of samples) sum += s * s;
  return Math.sqrt(sum / samples.length);
}

export interface Levels {
  input: number;
  output: number;
}

export interface PeerOptions {
  audio: AudioConstraints;
  deviceId: string;
  /** Every event sent or received on the channel, in channel order. */
  onEntry: (entry: EventEntry) => void;
  onIceState: (state: RTCIceConnectionState) => void;
  /** The channel closed without us closing it (remote hang-up or transport loss). */
  onChannelClose: () => void;
  /** `true` when the browser refused to autoplay the model's audio. */
  onSoundBlocked: (blocked: boolean) => void;
  /** An event could not be sent (e.g. larger than the channel's message limit). */
  onSendError: (event: ClientEvent, error: unknown) => void;
  /** Recorded audio (24 kHz PCM16) of the mic and the assistant; absent = no recording. */
  onAudio?: (track: Track, pcm: Int16Array, t: number) => void;
  /** Send the offer only once ICE gathering completes (GPT-Live takes no trickled candidates). */
  gatherIce?: boolean;
  /** Share this microphone (a clone of its tracks: same capture, no new permission prompt). */
  mic?: MediaStream;
  /** The microphone failed after the offer went out (its permission had been granted). */
  onMicError?: (error: unknown) => void;
}

/** The longest a closed peer keeps a call being set up, to close it once connected. */
export const HANGUP_MS = 10_000;

/** The longest wait for ICE gathering before the offer goes out with what it has. */
export const ICE_GATHERING_MS = 3000;

/** Resolves when `pc` has gathered every candidate, or after `ms`. */
export function iceGathered(pc: RTCPeerConnection, ms = ICE_GATHERING_MS): Promise<void> {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === "complete") done();
    };
    const timer = setTimeout(done, ms);
    pc.addEventListener("icegatheringstatechange", check);
  });
}

/** What the session needs from a peer; tests substitute a fake. */
export interface PeerLike {
  createOffer(): Promise<string>;
  accept(answerSdp: string): Promise<void>;
  send(event: ClientEvent): void;
  setMicEnabled(enabled: boolean): void;
  switchMic(deviceId: string): Promise<void>;
  enableSound(): Promise<boolean>;
  levels(): Levels;
  close(): void;
  /** The microphone this call sends, for a call that takes over from it (once it is open). */
  readonly micStream?: MediaStream | undefined;
}

let micPermission: Promise<PermissionStatus | null> | undefined;

/**
 * Whether this page may already use the microphone (so getUserMedia will not prompt). The
 * permission's status is asked for once per page and kept: it follows later changes itself.
 */
export async function micGranted(): Promise<boolean> {
  micPermission ??= Promise.resolve()
    .then(() => navigator.permissions.query({ name: "microphone" as PermissionName }))
    .catch(() => null); // no Permissions API, or no "microphone" in it: wait for the microphone
  return (await micPermission)?.state === "granted";
}

export function micConstraints(audio: AudioConstraints, deviceId: string): MediaTrackConstraints {
  return {
    echoCancellation: audio.echoCancellation ?? true,
    noiseSuppression: audio.noiseSuppression ?? true,
    autoGainControl: audio.autoGainControl ?? true,
    ...(deviceId ? { deviceId: { exact: deviceId } } : {}),
  };
}

class Meter {
  private readonly analyser: AnalyserNode;
  private readonly source: MediaStreamAudioSourceNode;
  private readonly buffer: Float32Array<ArrayBuffer>;

  constructor(ctx: AudioContext, stream: MediaStream) {
    this.source = ctx.createMediaStreamSource(stream);
    this.analyser = ctx.createAnalyser();
    this.analyser.fftSize = 1024;
    this.buffer = new Float32Array(this.analyser.fftSize);
    this.source.connect(this.analyser); // not to the destination: the <audio> element plays
  }

  level(): number {
    this.analyser.getFloatTimeDomainData(this.buffer);
    return rms(this.buffer);
  }

  disconnect(): void {
    this.source.disconnect();
  }
}

export class Peer implements PeerLike {
  private readonly pc: RTCPeerConnection;
  private readonly channel: RTCDataChannel;
  private readonly audio: HTMLAudioElement;
  private ctx: AudioContext | null = null;
  private readonly options: PeerOptions;
  private readonly sender: RTCRtpSender;
  private readonly offerMade: Promise<RTCSessionDescriptionInit>;
  private mic: MediaStream | undefined;
  /** The microphone opening (rejects with getUserMedia's error), once the offer is made. */
  private micOpening: Promise<void> | null = null;
  /** Whether the microphone's permission is granted (then the offer does not wait for it). */
  private readonly granted: Promise<boolean>;
  private micEnabled = true;
  private queue: ClientEvent[] = [];
  private inMeter: Meter | null = null;
  private outMeter: Meter | null = null;
  private micRecorder: Recorder | null = null;
  private outRecorder: Recorder | null = null;
  private closed = false;
  /** The offer went out (a backend may have made a call for it), and its answer was applied. */
  private offered = false;
  private answered = false;

  /**
   * Build the connection; the microphone's track joins its audio transceiver when
   * getUserMedia resolves (`replaceTrack`, no renegotiation). Where the permission is already
   * granted the offer goes out at once and the microphone opens with the answer (opening it
   * alongside the offer or its POST slowed both); else it opens before the offer.
   * getUserMedia's errors propagate as-is from `createOffer`, or else through `onMicError`.
   */
  static async open(options: PeerOptions): Promise<Peer> {
    return new Peer(options);
  }

  get micStream(): MediaStream | undefined {
    return this.mic;
  }

  private constructor(options: PeerOptions) {
    this.options = options;
    const connection = takeConnection();
    this.pc = connection.pc;
    this.sender = connection.sender;
    this.channel = connection.channel;
    this.offerMade = connection.offer;
    this.granted = options.mic ? Promise.resolve(true) : micGranted();
    this.channel.onopen = () => this.flushQueue();
    this.channel.onmessage = (e: MessageEvent) => this.receive(e.data);
    this.channel.onclose = () => {
      if (!this.closed) options.onChannelClose();
    };
    this.pc.oniceconnectionstatechange = () => {
      if (!this.closed) options.onIceState(this.pc.iceConnectionState);
    };

    this.audio = document.createElement("audio");
    this.audio.autoplay = true;
    this.pc.ontrack = (e: RTCTrackEvent) => {
      if (this.closed) return;
      const stream = e.streams[0] ?? new MediaStream([e.track]);
      // Chrome only pulls remote audio that a media element consumes; the analyser also reads it.
      this.audio.srcObject = stream;
      this.play();
      this.startAudio();
      if (this.ctx) {
        this.outMeter?.disconnect();
        this.outMeter = new Meter(this.ctx, stream);
        this.outRecorder?.stop();
        this.outRecorder = this.recorder("assistant", stream);
      }
    };
  }

  async createOffer(): Promise<string> {
    const offer = await this.offerMade;
    await this.pc.setLocalDescription(offer);
    // the permission prompt first: no call is made before the user allows the microphone
    if (!(await this.granted)) await this.openMic();
    // GPT-Live takes no trickled candidates: its offer waits for gathering. A Realtime offer
    // goes at once (the answerer learns our candidates).
    if (this.options.gatherIce) await iceGathered(this.pc);
    if (this.closed) throw new DOMException("the call was given up", "AbortError");
    this.offered = true;
    const gathered = this.options.gatherIce ? this.pc.localDescription?.sdp : undefined;
    return gathered ?? offer.sdp ?? "";
  }

  private openMic(): Promise<void> {
    const { mic, audio, deviceId } = this.options;
    this.micOpening ??= (
      mic
        ? Promise.resolve(mic.clone())
        : navigator.mediaDevices.getUserMedia({ audio: micConstraints(audio, deviceId) })
    ).then((stream) => this.attachMic(stream));
    return this.micOpening;
  }

  /** The microphone opened: send it, and meter and record it once the audio graph exists. */
  private async attachMic(mic: MediaStream): Promise<void> {
    const track = mic.getAudioTracks()[0];
    if (this.closed || this.mic) {
      for (const t of mic.getTracks()) t.stop(); // closed, or switched to another meanwhile
      return;
    }
    this.mic = mic;
    if (track) track.enabled = this.micEnabled;
    await this.sender.replaceTrack(track ?? null);
    this.listenToMic();
  }

  async accept(answerSdp: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: "answer", sdp: answerSdp });
    this.answered = true;
    if (this.closed) return; // connected only to be closed (see `endCall`)
    // Audio flows once the connection is made: the microphone (unless already open) and the
    // audio graph (meters, recorders) are set up meanwhile, off the way of the offer's POST.
    this.openMic().catch((err: unknown) => {
      if (!this.closed) this.options.onMicError?.(err);
    });
    setTimeout(() => this.startAudio(), 0);
  }

  /** Send a client event now, or once the channel opens. */
  send(event: ClientEvent): void {
    if (this.closed) return;
    if (this.channel.readyState === "open") this.sendNow(event);
    else this.queue.push(event);
  }

  setMicEnabled(enabled: boolean): void {
    this.micEnabled = enabled;
    for (const track of this.mic?.getAudioTracks() ?? []) track.enabled = enabled;
  }

  async switchMic(deviceId: string): Promise<void> {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: micConstraints(this.options.audio, deviceId),
    });
    const track = stream.getAudioTracks()[0];
    if (this.closed || !track) {
      for (const t of stream.getTracks()) t.stop();
      return;
    }
    track.enabled = this.micEnabled;
    await this.sender.replaceTrack(track);
    for (const t of this.mic?.getTracks() ?? []) t.stop();
    this.mic = stream;
    this.listenToMic();
  }

  /** The audio graph: an AudioContext, the microphone's meter and recorder (once). */
  private startAudio(): void {
    if (this.ctx || this.closed || typeof AudioContext !== "function") return;
    this.ctx = new AudioContext();
    this.ctx.resume().catch(() => undefined);
    this.listenToMic();
  }

  /** Meter and record the current microphone (when both it and the audio graph exist). */
  private listenToMic(): void {
    if (!this.ctx || !this.mic) return;
    this.inMeter?.disconnect();
    this.inMeter = new Meter(this.ctx, this.mic);
    this.micRecorder?.stop();
    this.micRecorder = this.recorder("mic", this.mic);
  }

  private recorder(track: Track, stream: MediaStream): Recorder | null {
    const onAudio = this.options.onAudio;
    if (!this.ctx || !onAudio) return null;
    return new Recorder(this.ctx, stream, (pcm, t) => onAudio(track, pcm, t));
  }

  /** Retry playback from a user gesture; resolves whether sound now plays. */
  async enableSound(): Promise<boolean> {
    await this.ctx?.resume().catch(() => undefined);
    try {
      await this.audio.play();
      this.options.onSoundBlocked(false);
      return true;
    } catch {
      return false;
    }
  }

  levels(): Levels {
    return { input: this.inMeter?.level() ?? 0, output: this.outMeter?.level() ?? 0 };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    for (const track of this.mic?.getTracks() ?? []) track.stop();
    this.inMeter?.disconnect();
    this.outMeter?.disconnect();
    this.micRecorder?.stop();
    this.outRecorder?.stop();
    this.channel.close();
    this.endCall();
    this.audio.pause();
    this.audio.srcObject = null;
    this.ctx?.close().catch(() => undefined);
  }

  /**
   * Close the connection so the backend ends the call too. A call being set up (the offer out,
   * its answer still to come or not yet connected) would be left waiting for this end until
   * the backend gives up, since only a connection that was made can be seen to close: so the
   * connection is kept until it connects (then closed at once) or fails, at most `HANGUP_MS`.
   */
  private endCall(): void {
    const pc = this.pc;
    const settled = () => pc.connectionState !== "new" && pc.connectionState !== "connecting";
    if (!this.offered || (this.answered && settled())) {
      pc.close();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener("connectionstatechange", check);
      pc.close();
    };
    const check = () => {
      if (this.answered && settled()) done();
    };
    const timer = setTimeout(done, HANGUP_MS);
    pc.addEventListener("connectionstatechange", check);
  }

  private play(): void {
    this.audio.play().then(
      () => this.options.onSoundBlocked(false),
      (err: unknown) => {
        // AbortError just means a newer source replaced this one.
        if ((err as { name?: string }).name === "NotAllowedError")
          this.options.onSoundBlocked(true);
      },
    );
  }

  private flushQueue(): void {
    const queued = this.queue;
    this.queue = [];
    for (const event of queued) this.sendNow(event);
  }

  private sendNow(event: ClientEvent): void {
    try {
      this.channel.send(JSON.stringify(event));
    } catch (err) {
      this.options.onSendError(event, err);
      return;
    }
    this.options.onEntry({ dir: "client", t: now(), event });
  }

  private receive(data: unknown): void {
    const t = now();
    let event: unknown;
    try {
      event = JSON.parse(String(data));
    } catch {
      event = undefined;
    }
    // Never drop what arrived: unparseable text is passed on under a type of its own.
    this.options.onEntry({
      dir: "server",
      t,
      event: isRealtimeEvent(event) ? event : { type: "rt_notebook.unparsed", data: String(data) },
    });
  }
}
