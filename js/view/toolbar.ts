// The toolbar: connect/disconnect and the status pill, microphone controls, level meters,
// the enable-sound button and a class service's remaining budget.

import type { HubBudget } from "../generated/protocol";
import type { Scope } from "./dom";
import { button, h, isLive } from "./dom";
import { buildMeters } from "./meters";

function callControls(scope: Scope): HTMLElement[] {
  const { model, session } = scope;
  const connect = button("Connect", "connect");
  const disconnect = button("Disconnect", "disconnect");
  const status = h("span", { class: "rtnb-pill", testid: "status" });
  // a replaced call says so: the session went on in a new call, and why
  const continued = h("span", { class: "rtnb-continued", testid: "continued" });
  const render = () => {
    const s = model.get("status") ?? "idle";
    const again = session.reconnecting;
    // which attempt, and why, while a lost call is being replaced
    status.textContent = s === "reconnecting" && again ? `${s} ${again.attempt}/${again.of}` : s;
    status.title = s === "reconnecting" && again ? `Reconnecting: ${again.reason}` : "";
    status.dataset.status = s;
    connect.hidden = isLive(s);
    disconnect.hidden = !isLive(s);
    const last = session.continued;
    continued.hidden = !last || s !== "connected";
    continued.dataset.rollover = String(Boolean(last?.rollover));
    continued.textContent = last
      ? `${last.rollover ? "rolled over to a new call" : "reconnected"} at ${new Date(last.at).toLocaleTimeString()}`
      : "";
    continued.title = last?.reason ?? "";
  };
  scope.watch(["status"], render);
  scope.onSession((change) => {
    if (change === "continuity") render();
  });
  scope.listen(connect, "click", () => void session.connect());
  scope.listen(disconnect, "click", () => session.disconnect());
  return [connect, disconnect, status, continued];
}

function muteButton(scope: Scope): HTMLElement {
  const { model, session } = scope;
  const mute = button("Mute", "mute", "Disable the microphone");
  scope.watch(["muted"], () => {
    const muted = Boolean(model.get("muted"));
    mute.textContent = muted ? "Unmute" : "Mute";
    mute.setAttribute("aria-pressed", String(muted));
    mute.classList.toggle("rtnb-on", muted);
  });
  scope.listen(mute, "click", () => session.setMuted(!model.get("muted")));
  return mute;
}

/** Hold to talk: pointer (mouse, touch) or Space while focused. */
function pttButton(scope: Scope): HTMLElement {
  const { model, session } = scope;
  const ptt = button("Hold to talk", "ptt", "Hold (mouse, touch, or Space when focused) to talk");
  scope.watch(["push_to_talk"], () => {
    ptt.hidden = !model.get("push_to_talk");
  });
  scope.watch(["status"], () => {
    const s = model.get("status");
    ptt.disabled = s !== "connected" && s !== "interrupted";
  });
  const renderTalking = () => {
    const talking = scope.session.talking;
    ptt.textContent = talking ? "Talking… (release to send)" : "Hold to talk";
    ptt.classList.toggle("rtnb-on", talking);
    ptt.setAttribute("aria-pressed", String(talking));
  };
  scope.onSession((change) => {
    if (change === "ptt") renderTalking();
  });
  renderTalking();
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
  scope.onDispose(release);
  scope.listen(ptt, "pointerdown", (e) => {
    const pointer = e as PointerEvent;
    if (pointer.button !== 0) return;
    pointer.preventDefault();
    ptt.setPointerCapture?.(pointer.pointerId);
    ptt.focus();
    press();
  });
  for (const type of ["pointerup", "pointercancel", "lostpointercapture", "blur"]) {
    scope.listen(ptt, type, release);
  }
  const isSpace = (e: KeyboardEvent) => e.code === "Space" || e.key === " ";
  scope.listen(ptt, "keydown", (e) => {
    const key = e as KeyboardEvent;
    if (!isSpace(key)) return;
    key.preventDefault();
    key.stopPropagation();
    if (!key.repeat) press();
  });
  scope.listen(ptt, "keyup", (e) => {
    const key = e as KeyboardEvent;
    if (!isSpace(key)) return;
    key.preventDefault();
    key.stopPropagation();
    release();
  });
  return ptt;
}

function option(value: string, text: string): HTMLOptionElement {
  const o = h("option", { text });
  o.value = value;
  return o;
}

/** The microphone list; device labels appear once the microphone has been granted. */
function micSelect(scope: Scope): HTMLElement {
  const { model, session } = scope;
  const mic = h("select", { class: "rtnb-select", testid: "mic-select", title: "Microphone" });
  mic.setAttribute("aria-label", "Microphone");
  const renderChoice = () => {
    const id = model.get("mic_device_id") ?? "";
    if (![...mic.options].some((o) => o.value === id)) {
      mic.append(option(id, id ? `Microphone ${id.slice(0, 8)}…` : "Default microphone"));
    }
    mic.value = id;
  };
  const media = globalThis.navigator?.mediaDevices;
  const refresh = async (): Promise<void> => {
    let devices: MediaDeviceInfo[] = [];
    try {
      devices = (await media?.enumerateDevices?.()) ?? [];
    } catch {
      devices = [];
    }
    if (!scope.alive) return;
    const inputs = devices.filter(
      (d) => d.kind === "audioinput" && d.deviceId && d.deviceId !== "default",
    );
    mic.replaceChildren(
      option("", "Default microphone"),
      ...inputs.map((d, i) => option(d.deviceId, d.label || `Microphone ${i + 1}`)),
    );
    renderChoice();
  };
  scope.watch(["mic_device_id"], renderChoice);
  scope.watch(["status"], () => {
    if (model.get("status") === "connected") void refresh();
  });
  if (media) scope.listen(media, "devicechange", () => void refresh());
  scope.listen(mic, "change", () => session.chooseMic(mic.value));
  void refresh();
  return mic;
}

function soundButton(scope: Scope): HTMLElement {
  const enable = button("🔊 Click to enable sound", "enable-sound");
  enable.classList.add("rtnb-primary");
  const render = () => {
    enable.hidden = !scope.session.soundBlocked;
  };
  scope.onSession((change) => {
    if (change === "sound") render();
  });
  scope.listen(enable, "click", () => scope.session.enableSound());
  render();
  return enable;
}

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

function budgetLabel(scope: Scope): HTMLElement {
  const budget = h("span", { class: "rtnb-budget", testid: "budget" });
  const render = () => {
    const text = budgetText(scope.session.budget);
    budget.hidden = !text;
    budget.textContent = text;
  };
  scope.onSession((change) => {
    if (change === "budget") render();
  });
  render();
  return budget;
}

export function buildToolbar(scope: Scope): HTMLElement {
  return h(
    "div",
    { class: "rtnb-bar" },
    ...callControls(scope),
    muteButton(scope),
    pttButton(scope),
    micSelect(scope),
    ...buildMeters(scope),
    soundButton(scope),
    budgetLabel(scope),
  );
}
