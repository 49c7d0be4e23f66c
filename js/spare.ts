// The page's spare peer connection: made while the page is idle, so that Connect starts from
// an offer already made; the call that takes it (js/peer.ts) adds the microphone and handlers.

/** A peer connection made before it is needed: its audio transceiver, channel and offer. */
export interface Connection {
  pc: RTCPeerConnection;
  sender: RTCRtpSender;
  channel: RTCDataChannel;
  offer: Promise<RTCSessionDescriptionInit>;
}

function newConnection(): Connection {
  const pc = new RTCPeerConnection();
  // A stream of its own, so the offer names one (`a=msid`) as addTrack's would
  const streams = [new MediaStream()];
  const sender = pc.addTransceiver("audio", { direction: "sendrecv", streams }).sender;
  // The channel must exist before createOffer so the offer carries an SCTP section.
  const channel = pc.createDataChannel("oai-events");
  const offer = pc.createOffer();
  offer.catch(() => undefined); // awaited, and reported, by the call that takes it
  return { pc, sender, channel, offer };
}

/** The first spare waits for the page to be idle up to this long (JupyterLab is loading). */
const FIRST_MS = 5000;
/** After a call, the next spare is made within this long, idle or not: a page busy finishing
 * the call (recordings, the last events) could otherwise still have none when Connect is
 * clicked again (then the offer is made on the click, 3-5 ms later to the POST). */
export const REFILL_MS = 250;

/** A spare connection kept for a session's next call. */
export interface ConnectionReady {
  /** Make the next spare when the page is idle, at the latest `REFILL_MS` after a call ended
   * (no call of this session is being set up). */
  refill(): void;
  /** The session is gone: close the spare if no other session keeps it. */
  release(): void;
}

/** Run `fn` when the page is idle (at the latest after `ms`); returns the cancel. */
function whenIdle(fn: () => void, ms: number): () => void {
  if (typeof requestIdleCallback === "function") {
    const id = requestIdleCallback(fn, { timeout: ms });
    return () => cancelIdleCallback(id);
  }
  const id = setTimeout(fn, ms);
  return () => clearTimeout(id);
}

/**
 * The page's spare connection for its next call, made while the page is idle: Connect then
 * starts from an offer already made (side by side, 3 ms sooner to the POST in JupyterLab).
 * It gathers nothing (no local description yet) and is closed once no session keeps it.
 */
const spare = {
  connection: null as Connection | null,
  holders: 0,
  cancel: null as (() => void) | null,
  schedule(ms: number): void {
    if (this.cancel || this.connection || this.holders === 0) return;
    this.cancel = whenIdle(() => {
      this.cancel = null;
      if (this.holders > 0 && !this.connection) this.connection = newConnection();
    }, ms);
  },
  release(): void {
    this.holders = Math.max(0, this.holders - 1);
    if (this.holders > 0) return;
    this.cancel?.();
    this.cancel = null;
    this.connection?.pc.close();
    this.connection = null;
  },
};

/** Keep a spare connection ready for this session's calls (the first once the page is idle). */
export function keepConnectionReady(): ConnectionReady {
  if (typeof RTCPeerConnection !== "function") return { refill() {}, release() {} };
  spare.holders += 1;
  spare.schedule(FIRST_MS);
  let released = false;
  return {
    refill: () => {
      if (!released) spare.schedule(REFILL_MS);
    },
    release: () => {
      if (!released) spare.release();
      released = true;
    },
  };
}

/** The spare connection, if one is ready, else a new one. */
export function takeConnection(): Connection {
  const taken = spare.connection ?? newConnection();
  spare.connection = null;
  return taken;
}
