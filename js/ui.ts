// The widget's DOM: controls, status, meters, transcript, inspector, error box and banner.
// It reads traits from the model and everything else from the session; logic lives elsewhere.

import type { AnyModel } from "@anywidget/types";
import type { EventEntry, HubBudget, Status, WidgetModel } from "./generated/protocol";
import type { Row } from "./inspector";
import { inspectorRows, rowJson } from "./inspector";
import type { SessionHandle } from "./session";

export const LOCAL_BANNER =
  "Local backend: no OpenAI key configured — answers come from rt_notebook's built-in simulator";

const LIVE: readonly Status[] = ["connecting", "connected", "interrupted"];

/** An RMS level as a meter fraction: -60 dBFS → 0, 0 dBFS → 1. */
/** The remaining budget a class service reports, e.g. "Left today: $0.42 · 12.5 min". */
export function budgetText(budget: HubBudget | null): string {
  const left = budget?.remaining;
  if (!left) return "";
  const parts: string[] = [];
  if (left.usd_today !== null) parts.push(`$${left.usd_today.toFixed(2)}`);
  if (left.minutes_today !== null) parts.push(`${left.minutes_today.toFixed(1)} min`);
  const today = parts.length ? `Left today: ${parts.join(" · ")}` : "";
  const term = left.usd_term !== null ? `this term: $${left.usd_term.toFixed(2)}` : "";
  return [today, term].filter(Boolean).join("; ");
}

export function meterFraction(rms: number): number {
  if (!(rms > 0)) return 0;
  return Math.min(1, Math.max(0, (20 * Math.log10(rms) + 60) / 60));
}

type Props = { class?: string; testid?: string; text?: string; title?: string };

function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Node[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.testid) el.dataset.testid = props.testid;
  if (props.text !== undefined) el.textContent = props.text;
  if (props.title) el.title = props.title;
  el.append(...children);
  return el;
}

function button(text: string, testid: string, title?: string): HTMLButtonElement {
  const b = h("button", {
    class: `rtnb-button rtnb-${testid}`,
    testid,
    text,
    ...(title ? { title } : {}),
  });
  b.type = "button";
  return b;
}

function clock(t: number): string {
  return new Date(t).toISOString().slice(11, 23);
}

/** Build the view in `el`; returns the cleanup that removes it and every listener. */
export function mountUi(
  el: HTMLElement,
  model: AnyModel<WidgetModel>,
  session: SessionHandle,
): () => void {
  const cleanups: (() => void)[] = [];
  const listen = (target: EventTarget, type: string, fn: (e: Event) => void): void => {
    target.addEventListener(type, fn);
    cleanups.push(() => target.removeEventListener(type, fn));
  };
  const watch = (name: keyof WidgetModel, fn: () => void): void => {
    model.on(`change:${name}`, fn);
    cleanups.push(() => model.off(`change:${name}`, fn));
  };

  // controls
  const connect = button("Connect", "connect");
  const disconnect = button("Disconnect", "disconnect");
  const status = h("span", { class: "rtnb-pill", testid: "status" });
  const mute = button("Mute", "mute", "Disable the microphone");
  const ptt = button("Hold to talk", "ptt", "Hold (mouse, touch, or Space when focused) to talk");
  const mic = h("select", { class: "rtnb-select", testid: "mic-select", title: "Microphone" });
  const meterIn = h("span", { class: "rtnb-meter", testid: "meter-in", title: "Microphone level" });
  const meterOut = h("span", {
    class: "rtnb-meter",
    testid: "meter-out",
    title: "Model audio level",
  });
  for (const meter of [meterIn, meterOut]) {
    meter.append(h("span", { class: "rtnb-meter-bar" }));
    meter.dataset.level = "0";
  }
  const enableSound = button("🔊 Click to enable sound", "enable-sound");
  enableSound.classList.add("rtnb-primary");
  const budget = h("span", { class: "rtnb-budget", testid: "budget" });
  const bar = h(
    "div",
    { class: "rtnb-bar" },
    connect,
    disconnect,
    status,
    mute,
    ptt,
    mic,
    h("span", { class: "rtnb-meter-label", text: "mic" }),
    meterIn,
    h("span", { class: "rtnb-meter-label", text: "model" }),
    meterOut,
    enableSound,
    budget,
  );

  const banner = h("div", { class: "rtnb-banner", testid: "banner", text: LOCAL_BANNER });
  const errorMessage = h("div", { class: "rtnb-error-message" });
  const errorFix = h("div", { class: "rtnb-error-fix" });
  const errorBox = h("div", { class: "rtnb-error", testid: "error" }, errorMessage, errorFix);
  errorBox.setAttribute("role", "alert");
  const transcript = h("div", { class: "rtnb-transcript", testid: "transcript" });

  const filter = h("input", { class: "rtnb-filter" });
  filter.placeholder = "filter by type";
  const rowsBox = h("div", { class: "rtnb-rows" });
  const json = h("pre", { class: "rtnb-json" });
  const summary = h("summary", { text: "Events" });
  const inspector = h(
    "details",
    { class: "rtnb-inspector", testid: "inspector" },
    summary,
    filter,
    rowsBox,
    json,
  );

  const root = h("div", { class: "rtnb" }, banner, bar, errorBox, transcript, inspector);
  root.dataset.lmSuppressShortcuts = "true"; // keep JupyterLab's command-mode keys out of the widget
  el.append(root);

  // traits
  const renderStatus = () => {
    const s: Status = model.get("status") ?? "idle";
    status.textContent = s;
    status.dataset.status = s;
    root.dataset.status = s;
    const live = LIVE.includes(s);
    connect.hidden = live;
    disconnect.hidden = !live;
    ptt.disabled = s !== "connected" && s !== "interrupted";
    if (s === "connected") void refreshMics(); // device labels appear once the mic is granted
    startMeters();
  };
  const renderError = () => {
    const error = model.get("error");
    errorBox.hidden = !error;
    errorBox.dataset.code = error?.code ?? "";
    errorMessage.textContent = error?.message ?? "";
    errorFix.textContent = error?.fix ? `Fix: ${error.fix}` : "";
    errorFix.hidden = !error?.fix;
  };
  const renderBanner = () => {
    banner.hidden = model.get("backend") !== "local";
  };
  const renderMute = () => {
    const muted = Boolean(model.get("muted"));
    mute.textContent = muted ? "Unmute" : "Mute";
    mute.setAttribute("aria-pressed", String(muted));
    mute.classList.toggle("rtnb-on", muted);
  };
  const renderPtt = () => {
    ptt.hidden = !model.get("push_to_talk");
  };
  const option = (value: string, text: string) => {
    const o = h("option", { text });
    o.value = value;
    return o;
  };
  const renderMic = () => {
    const id = model.get("mic_device_id") ?? "";
    if (![...mic.options].some((o) => o.value === id)) {
      mic.append(option(id, id ? `Microphone ${id.slice(0, 8)}…` : "Default microphone"));
    }
    mic.value = id;
  };
  const renderSound = () => {
    enableSound.hidden = !session.soundBlocked;
  };
  const renderBudget = () => {
    const text = budgetText(session.budget);
    budget.hidden = !text;
    budget.textContent = text;
  };

  watch("status", renderStatus);
  watch("error", renderError);
  watch("backend", renderBanner);
  watch("muted", renderMute);
  watch("push_to_talk", renderPtt);
  watch("mic_device_id", renderMic);

  // microphone list
  const media = globalThis.navigator?.mediaDevices;
  let alive = true;
  async function refreshMics(): Promise<void> {
    let devices: MediaDeviceInfo[] = [];
    try {
      devices = (await media?.enumerateDevices?.()) ?? [];
    } catch {
      devices = [];
    }
    if (!alive) return;
    const inputs = devices.filter(
      (d) => d.kind === "audioinput" && d.deviceId && d.deviceId !== "default",
    );
    mic.replaceChildren(
      option("", "Default microphone"),
      ...inputs.map((d, i) => option(d.deviceId, d.label || `Microphone ${i + 1}`)),
    );
    renderMic();
  }
  if (media) listen(media, "devicechange", () => void refreshMics());
  listen(mic, "change", () => session.chooseMic(mic.value));

  // buttons
  listen(connect, "click", () => void session.connect());
  listen(disconnect, "click", () => session.disconnect());
  listen(mute, "click", () => session.setMuted(!model.get("muted")));
  listen(enableSound, "click", () => session.enableSound());
  let holding = false; // this view pressed, so this view releases (also when it goes away)
  const press = () => {
    holding = true;
    session.pttPress();
  };
  const release = () => {
    if (!holding) return;
    holding = false;
    session.pttRelease();
  };
  listen(ptt, "pointerdown", (e) => {
    const pointer = e as PointerEvent;
    if (pointer.button !== 0) return;
    pointer.preventDefault();
    ptt.setPointerCapture?.(pointer.pointerId);
    ptt.focus();
    press();
  });
  for (const type of ["pointerup", "pointercancel", "lostpointercapture", "blur"]) {
    listen(ptt, type, release);
  }
  const isSpace = (e: KeyboardEvent) => e.code === "Space" || e.key === " ";
  listen(ptt, "keydown", (e) => {
    const key = e as KeyboardEvent;
    if (!isSpace(key)) return;
    key.preventDefault();
    key.stopPropagation();
    if (!key.repeat) press();
  });
  listen(ptt, "keyup", (e) => {
    const key = e as KeyboardEvent;
    if (!isSpace(key)) return;
    key.preventDefault();
    key.stopPropagation();
    release();
  });

  // transcript and inspector, redrawn at most once a frame
  const turnRows = new Map<string, { row: HTMLElement; text: HTMLElement }>();
  const renderTranscript = () => {
    const stick = transcript.scrollTop + transcript.clientHeight >= transcript.scrollHeight - 8;
    const turns = session.transcript.turns.filter((t) => t.text !== "");
    const seen = new Set<string>();
    turns.forEach((turn, i) => {
      seen.add(turn.id);
      let entry = turnRows.get(turn.id);
      if (!entry) {
        const text = h("span", { class: "rtnb-turn-text" });
        const row = h(
          "div",
          {},
          h("span", { class: "rtnb-turn-role", text: turn.role === "user" ? "You" : "Model" }),
          text,
        );
        row.dataset.itemId = turn.id;
        entry = { row, text };
        turnRows.set(turn.id, entry);
      }
      entry.row.className = `rtnb-turn rtnb-${turn.role}${turn.final ? "" : " rtnb-partial"}`;
      entry.row.dataset.role = turn.role;
      entry.row.dataset.final = String(turn.final);
      if (entry.text.textContent !== turn.text) entry.text.textContent = turn.text;
      if (transcript.children[i] !== entry.row)
        transcript.insertBefore(entry.row, transcript.children[i] ?? null);
    });
    for (const [id, entry] of turnRows) {
      if (!seen.has(id)) {
        entry.row.remove();
        turnRows.delete(id);
      }
    }
    if (stick) transcript.scrollTop = transcript.scrollHeight;
  };

  let selected: EventEntry | null = null;
  let rows: Row[] = [];
  const renderInspector = () => {
    summary.textContent = `Events (${session.log.length})`;
    if (!inspector.open) return;
    const stick = rowsBox.scrollTop + rowsBox.clientHeight >= rowsBox.scrollHeight - 8;
    rows = inspectorRows(session.log, filter.value);
    rowsBox.replaceChildren(
      ...rows.map((row, i) => {
        const line = h("div", {
          class: `rtnb-row rtnb-${row.dir}${row.entries[0] === selected ? " rtnb-selected" : ""}`,
          text: `${clock(row.t)} ${row.dir === "server" ? "↓" : "↑"} ${row.type}${row.count > 1 ? ` ×${row.count}` : ""}`,
        });
        line.dataset.row = String(i);
        line.dataset.type = row.type;
        return line;
      }),
    );
    const chosen = rows.find((r) => r.entries[0] === selected);
    json.textContent = chosen ? rowJson(chosen) : "";
    json.hidden = !chosen;
    if (stick) rowsBox.scrollTop = rowsBox.scrollHeight;
  };
  listen(rowsBox, "click", (e) => {
    const line = (e.target as HTMLElement).closest<HTMLElement>("[data-row]");
    const row = line ? rows[Number(line.dataset.row)] : undefined;
    if (!row) return;
    selected = row.entries[0] === selected ? null : (row.entries[0] ?? null);
    renderInspector();
  });
  listen(filter, "input", () => renderInspector());
  listen(inspector, "toggle", () => renderInspector());

  let frame = 0;
  const redraw = () => {
    frame = 0;
    renderTranscript();
    renderInspector();
  };
  const unsubscribe = session.subscribe((change) => {
    if (change === "sound") renderSound();
    else if (change === "budget") renderBudget();
    else if (!frame) frame = requestAnimationFrame(redraw);
  });
  cleanups.push(unsubscribe);

  // level meters: run while a call is live and the view is in the document
  let meterFrame = 0;
  const setMeter = (meter: HTMLElement, rms: number) => {
    const fraction = meterFraction(rms);
    meter.dataset.level = rms.toFixed(4);
    (meter.firstElementChild as HTMLElement).style.width = `${(fraction * 100).toFixed(1)}%`;
  };
  const tick = () => {
    meterFrame = 0;
    const live = LIVE.includes(model.get("status"));
    const levels = live ? session.levels() : { input: 0, output: 0 };
    setMeter(meterIn, levels.input);
    setMeter(meterOut, levels.output);
    if (live && root.isConnected) meterFrame = requestAnimationFrame(tick);
  };
  function startMeters(): void {
    if (!meterFrame && alive) meterFrame = requestAnimationFrame(tick);
  }
  // JupyterLab may detach an off-screen cell; restart the meters when events show it is back.
  cleanups.push(session.subscribe(() => startMeters()));

  renderStatus();
  renderError();
  renderBanner();
  renderMute();
  renderPtt();
  renderSound();
  renderBudget();
  redraw();
  void refreshMics();

  return () => {
    alive = false;
    release();
    if (frame) cancelAnimationFrame(frame);
    if (meterFrame) cancelAnimationFrame(meterFrame);
    for (const cleanup of cleanups.splice(0)) cleanup();
    root.remove();
  };
}
