import { describe, expect, it } from "vitest";
import { describeError, userWords } from "../errors";
import { SignalingError } from "../signaling";

const signaling = (code: string, message = "upstream says no", param?: string) =>
  new SignalingError({ status: 400, code, message, ...(param ? { param } : {}) });

describe("describeError", () => {
  it("explains getUserMedia failures with a fix", () => {
    const denied = describeError(
      new DOMException("Permission denied", "NotAllowedError"),
      "server",
    );
    expect(denied.code).toBe("mic_denied");
    expect(denied.fix).toMatch(/Allow the microphone/);
    expect(describeError(new DOMException("none", "NotFoundError"), "server").code).toBe(
      "no_microphone",
    );
    expect(describeError(new DOMException("x", "OverconstrainedError"), "kernel").code).toBe(
      "mic_unavailable",
    );
  });

  it("keeps the server's message and adds a fix that depends on where the key lives", () => {
    const server = describeError(signaling("openai_key_rejected", "Incorrect API key"), "server");
    expect(server).toMatchObject({ code: "openai_key_rejected", message: "Incorrect API key" });
    expect(server.fix).toMatch(/Jupyter server/);
    expect(describeError(signaling("openai_key_rejected"), "kernel").fix).toMatch(/kernel/);
  });

  it("covers quota, rate limits and unreachable backends", () => {
    for (const code of [
      "openai_quota_exceeded",
      "openai_rate_limited",
      "rate_limited",
      "upstream_unreachable",
      "unreachable",
      "extension_missing",
    ]) {
      expect(describeError(signaling(code), "server").fix, code).toBeTruthy();
    }
  });

  it("shows the parameter of an invalid session", () => {
    const e = describeError(
      signaling("invalid_session", "not a GA field", "session.voice"),
      "server",
    );
    expect(e.message).toBe("not a GA field (session.voice)");
    expect(e.fix).toBe("Correct session= field “voice”, then connect again");
  });

  it("names a field as the keyword that sets it (model=, voice=)", () => {
    const model = describeError(
      signaling("invalid_session", "model 'x' is not allowed", "session.model"),
      "server",
    );
    expect(model.fix).toBe("Correct model= (session.model), then connect again");
    expect(userWords("session.audio.input.turn_detection.type")).toBe(
      "turn_detection= (session.audio.input.turn_detection.type)",
    );
  });

  it("passes anything else through with a generic code", () => {
    expect(describeError(new Error("boom"), "server")).toEqual({ code: "error", message: "boom" });
  });
});
