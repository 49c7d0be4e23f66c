/** Browser epoch time in ms, the `t` of every event entry and audio chunk. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}
