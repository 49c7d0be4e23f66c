// Downloads of the kernel's copy of the session: the transcript, the event log, recordings.

import type { DownloadKind } from "../generated/protocol";
import type { Scope } from "./dom";
import { button, h } from "./dom";

const CHOICES: [DownloadKind, string, string][] = [
  ["transcript.md", "Transcript .md", "The transcript as Markdown"],
  ["transcript.jsonl", "Transcript .jsonl", "The transcript, one turn a line"],
  ["events.jsonl", "Events .jsonl", "Every event of the session (load_session reads it)"],
  ["mic.wav", "Mic .wav", "Your microphone, as recorded"],
  ["assistant.wav", "Model .wav", "The model's voice, as recorded"],
];

function save(name: string, mime: string, data: DataView): void {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const url = URL.createObjectURL(new Blob([bytes.slice()], { type: mime }));
  const link = h("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function buildDownloads(scope: Scope): HTMLElement {
  const note = h("span", { class: "rtnb-download-note", testid: "download-note" });
  note.setAttribute("role", "status");
  const buttons = CHOICES.map(([what, text, title]) => {
    const b = button(text, `download-${what.replace(".", "-")}`, title);
    scope.listen(b, "click", () => {
      note.textContent = "";
      scope.session.download(what).then(
        (file) => save(file.name, file.mime, file.data),
        (err: unknown) => {
          if (scope.alive) note.textContent = err instanceof Error ? err.message : String(err);
        },
      );
    });
    return b;
  });
  return h(
    "details",
    { class: "rtnb-downloads", testid: "downloads" },
    h("summary", { text: "Download" }),
    h("div", { class: "rtnb-bar" }, ...buttons, note),
  );
}
