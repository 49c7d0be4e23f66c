// What every part of the view shares: element builders and the scope that owns its listeners.

import type { AnyModel } from "@anywidget/types";
import type { WidgetModel } from "../generated/protocol";
import type { SessionChange, SessionHandle } from "../session";

type Props = { class?: string; testid?: string; text?: string; title?: string };

export function h<K extends keyof HTMLElementTagNameMap>(
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

/** Set an element's text only when it differs: each write is a DOM change to lay out again. */
export function setText(el: HTMLElement, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

export function button(text: string, testid: string, title?: string): HTMLButtonElement {
  const b = h("button", {
    class: `rtnb-button rtnb-${testid}`,
    testid,
    text,
    ...(title ? { title } : {}),
  });
  b.type = "button";
  return b;
}

export { isLive } from "../state";

/** One view's model, session and cleanups: each part registers here, `dispose` undoes all. */
export class Scope {
  readonly model: AnyModel<WidgetModel>;
  readonly session: SessionHandle;
  /** False once the view is gone (async work checks it before touching the DOM). */
  alive = true;
  private readonly cleanups: (() => void)[] = [];

  constructor(model: AnyModel<WidgetModel>, session: SessionHandle) {
    this.model = model;
    this.session = session;
  }

  listen(target: EventTarget, type: string, fn: (e: Event) => void): void {
    target.addEventListener(type, fn);
    this.cleanups.push(() => target.removeEventListener(type, fn));
  }

  /** Run `render` now and whenever one of these traits changes. */
  watch(names: (keyof WidgetModel)[], render: () => void): void {
    for (const name of names) {
      this.model.on(`change:${name}`, render);
      this.cleanups.push(() => this.model.off(`change:${name}`, render));
    }
    render();
  }

  /** Run `fn` on every change of the session (events, sound, budget). */
  onSession(fn: (change: SessionChange) => void): void {
    this.cleanups.push(this.session.subscribe(fn));
  }

  onDispose(fn: () => void): void {
    this.cleanups.push(fn);
  }

  dispose(): void {
    this.alive = false;
    for (const cleanup of this.cleanups.splice(0)) cleanup();
  }
}
