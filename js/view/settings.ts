// Settings before connecting: voice, instructions and turn mode. The kernel validates a change
// with the session's own validator and updates `session_config` (or sets `error` with the fix);
// the form shows whatever `session_config` and `push_to_talk` say.

import type { TurnMode } from "../generated/protocol";
import type { Scope } from "./dom";
import { button, h, isLive } from "./dom";

function record(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
}

/** The form's values as the session config has them. */
export function currentSettings(
  config: Record<string, unknown>,
  pushToTalk: boolean,
): { voice: string; instructions: string; turnMode: TurnMode } {
  const audio = record(config.audio);
  const voice = record(audio.output).voice;
  const detection = record(record(audio.input).turn_detection);
  const turnMode: TurnMode = pushToTalk
    ? "push_to_talk"
    : detection.type === "semantic_vad"
      ? "semantic_vad"
      : "server_vad";
  return {
    voice: typeof voice === "string" ? voice : "",
    instructions: typeof config.instructions === "string" ? config.instructions : "",
    turnMode,
  };
}

function labelled(text: string, control: HTMLElement): HTMLElement {
  const label = h("label", { class: "rtnb-setting" }, h("span", { text }), control);
  return label;
}

const MODES: [TurnMode, string][] = [
  ["server_vad", "Voice activity (server VAD)"],
  ["semantic_vad", "Semantic VAD"],
  ["push_to_talk", "Push-to-talk"],
];

export function buildSettings(scope: Scope): HTMLElement {
  const { model, session } = scope;
  const voice = h("input", { class: "rtnb-filter", testid: "setting-voice" });
  voice.placeholder = "default (e.g. marin)";
  const voices = h("datalist");
  voices.id = `rtnb-voices-${Math.random().toString(36).slice(2)}`;
  voice.setAttribute("list", voices.id);
  scope.watch(["voices"], () => {
    voices.replaceChildren(
      ...(model.get("voices") ?? []).map((name) => {
        const o = h("option");
        o.value = name;
        return o;
      }),
    );
  });
  const instructions = h("textarea", { class: "rtnb-filter", testid: "setting-instructions" });
  instructions.rows = 2;
  const mode = h("select", { class: "rtnb-select", testid: "setting-turn-mode" });
  for (const [value, text] of MODES) {
    const o = h("option", { text });
    o.value = value;
    mode.append(o);
  }
  const apply = button("Apply", "settings-apply", "Validate and use these settings");
  const form = h(
    "form",
    { class: "rtnb-settings-form" },
    labelled("Voice", voice),
    voices,
    labelled("Instructions", instructions),
    labelled("Turn mode", mode),
    apply,
  );
  apply.type = "submit";
  const el = h(
    "details",
    { class: "rtnb-settings", testid: "settings" },
    h("summary", { text: "Settings" }),
    form,
  );
  const render = () => {
    const now = currentSettings(
      model.get("session_config") ?? {},
      Boolean(model.get("push_to_talk")),
    );
    voice.value = now.voice;
    instructions.value = now.instructions;
    mode.value = now.turnMode;
  };
  scope.watch(["session_config", "push_to_talk"], render);
  scope.watch(["status"], () => {
    const live = isLive(model.get("status"));
    for (const control of [voice, instructions, mode, apply]) control.disabled = live;
    if (live) el.open = false; // out of the way during the call
    el.title = live ? "Settings apply before connecting; disconnect to change them" : "";
  });
  scope.listen(form, "submit", (e) => {
    e.preventDefault();
    const now = currentSettings(
      model.get("session_config") ?? {},
      Boolean(model.get("push_to_talk")),
    );
    const change: { voice?: string; instructions?: string; turn_mode?: TurnMode } = {};
    if (voice.value.trim() !== now.voice) change.voice = voice.value.trim();
    if (instructions.value !== now.instructions) change.instructions = instructions.value;
    if (mode.value !== now.turnMode) change.turn_mode = mode.value as TurnMode;
    if (Object.keys(change).length) session.configure(change);
  });
  return el;
}
