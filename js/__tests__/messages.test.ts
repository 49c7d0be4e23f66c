import { describe, expect, it } from "vitest";
import { base64, parseKernelMessage, withDataUrl } from "../messages";

describe("withDataUrl (the send + binary rule)", () => {
  const event = {
    type: "conversation.item.create",
    item: {
      type: "message",
      role: "user",
      content: [
        { type: "input_image", image_url: "" },
        { type: "input_text", text: "what?" },
      ],
    },
  };

  it("writes data:<mime>;base64 of the buffer at the path, leaving the original alone", () => {
    const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0xff, 0x00]);
    const out = withDataUrl(
      event,
      { path: ["item", "content", 0, "image_url"], mime: "image/png" },
      new DataView(bytes.buffer),
    );
    const content = (out.item as { content: { image_url?: string; text?: string }[] }).content;
    expect(content[0]?.image_url).toBe("data:image/png;base64,iVBORw0KGgr/AA==");
    expect(content[1]?.text).toBe("what?");
    expect(event.item.content[0]?.image_url).toBe("");
  });

  it("reads only the DataView's window of a larger buffer", () => {
    const whole = new Uint8Array([1, 2, 3, 4, 5, 6]);
    const out = withDataUrl(
      { type: "x" },
      { path: ["url"], mime: "image/jpeg" },
      new DataView(whole.buffer, 2, 3),
    );
    expect(out.url).toBe(`data:image/jpeg;base64,${btoa("\x03\x04\x05")}`);
  });

  it("creates missing containers and refuses to walk through a string", () => {
    const out = withDataUrl(
      { type: "x" },
      { path: ["a", 0, "b"], mime: "m/n" },
      new ArrayBuffer(1),
    );
    expect(out).toEqual({ type: "x", a: [{ b: "data:m/n;base64,AA==" }] });
    expect(() =>
      withDataUrl({ type: "x", a: "s" }, { path: ["a", "b"], mime: "m/n" }, new ArrayBuffer(1)),
    ).toThrow(TypeError);
  });

  it("encodes large buffers exactly", () => {
    const bytes = new Uint8Array(1_000_003).map((_, i) => (i * 7919) % 256);
    let binary = ""; // the obvious, unchunked encoding
    for (const b of bytes) binary += String.fromCharCode(b);
    expect(base64(bytes)).toBe(btoa(binary));
  });
});

describe("parseKernelMessage", () => {
  it("accepts the protocol's messages", () => {
    expect(parseKernelMessage({ kind: "connect" })).toEqual({ kind: "connect" });
    expect(parseKernelMessage({ kind: "send", event: { type: "response.create" } })).toEqual({
      kind: "send",
      event: { type: "response.create" },
    });
    expect(
      parseKernelMessage({
        kind: "answer",
        id: "1",
        sdp: "v=0",
        call_id: "rtc_1",
        backend: "local",
      }),
    ).toEqual({ kind: "answer", id: "1", sdp: "v=0", call_id: "rtc_1", backend: "local" });
    expect(
      parseKernelMessage({
        kind: "answer",
        id: "2",
        error: { status: 401, code: "k", message: "m" },
      }),
    ).toEqual({ kind: "answer", id: "2", error: { status: 401, code: "k", message: "m" } });
  });

  it("returns null for malformed or unknown messages", () => {
    expect(parseKernelMessage(null)).toBeNull();
    expect(parseKernelMessage({ kind: "nope" })).toBeNull();
    expect(parseKernelMessage({ kind: "send", event: { no: "type" } })).toBeNull();
    expect(
      parseKernelMessage({ kind: "send", event: { type: "x" }, binary: { path: [] } }),
    ).toBeNull();
    expect(parseKernelMessage({ kind: "answer", sdp: "v=0" })).toBeNull();
  });
});
