// Microphone gating and push-to-talk (WebRTC, as OpenAI documents it), as pure functions.

import type { ClientEvent, ServerEvent } from "./messages";

/** Whether the model is talking: a response is being generated, or its audio is still playing. */
export interface Playback {
  responseActive: boolean;
  audioPlaying: boolean;
}

export const SILENT: Playback = { responseActive: false, audioPlaying: false };

export function trackPlayback(playback: Playback, event: ServerEvent): Playback {
  switch (event.type) {
    case "response.created":
      return { ...playback, responseActive: true };
    case "response.done":
      return { ...playback, responseActive: false };
    case "output_audio_buffer.started":
      return { ...playback, audioPlaying: true };
    case "output_audio_buffer.stopped":
    case "output_audio_buffer.cleared":
      return { ...playback, audioPlaying: false };
    default:
      return playback;
  }
}

/**
 * Press: if a response is playing, interrupt it (`response.cancel` only while one is active, as
 * the server errors otherwise, then `output_audio_buffer.clear`); then `input_audio_buffer.clear`.
 * The caller enables the mic track after sending these.
 */
export function pressEvents(playback: Playback): ClientEvent[] {
  const events: ClientEvent[] = [];
  if (playback.responseActive) events.push({ type: "response.cancel" });
  if (playback.responseActive || playback.audioPlaying) {
    events.push({ type: "output_audio_buffer.clear" });
  }
  events.push({ type: "input_audio_buffer.clear" });
  return events;
}

/** Release: the caller disables the mic track first, then sends these. */
export function releaseEvents(): ClientEvent[] {
  return [{ type: "input_audio_buffer.commit" }, { type: "response.create" }];
}

/** The mic track is live unless muted, and with push-to-talk only while the button is held. */
export function micEnabled(muted: boolean, pushToTalk: boolean, held: boolean): boolean {
  return !muted && (!pushToTalk || held);
}
