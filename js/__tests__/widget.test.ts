import { describe, expect, it } from "vitest";
import { sameModel } from "../widget";
import { FakeModel } from "./fakes";

/** What anywidget passes to initialize/render: a fresh object over the same model. */
function proxy(model: FakeModel) {
  return {
    get: model.get.bind(model),
    set: model.set.bind(model),
    save_changes: model.save_changes.bind(model),
    send: model.send.bind(model),
    on: model.on.bind(model),
    off: model.off.bind(model),
  } as unknown as ReturnType<FakeModel["asModel"]>;
}

describe("sameModel", () => {
  it("matches two proxies of one model, even after Python replaces a trait", () => {
    const a = new FakeModel();
    expect(sameModel(proxy(a), proxy(a))).toBe(true);
    a.attrs.session_config = { type: "realtime", model: "gpt-realtime-2.1" };
    expect(sameModel(proxy(a), proxy(a))).toBe(true);
  });

  it("tells different models apart, even with equal trait values", () => {
    const a = new FakeModel();
    const b = new FakeModel();
    expect(sameModel(proxy(a), proxy(b))).toBe(false);
  });

  it("does not match models that lack the object traits", () => {
    const a = new FakeModel({ session_config: undefined, audio_constraints: undefined } as never);
    const b = new FakeModel({ session_config: undefined, audio_constraints: undefined } as never);
    expect(sameModel(proxy(a), proxy(b))).toBe(false);
  });
});
