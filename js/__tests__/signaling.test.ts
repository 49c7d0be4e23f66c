import { describe, expect, it, vi } from "vitest";
import type { ServerStatus } from "../generated/protocol";
import { parseKernelMessage } from "../messages";
import {
  chooseRoute,
  ExtensionClient,
  KernelRelay,
  negotiate,
  SignalingError,
  STATUS_MAX_AGE_MS,
  serverExchange,
  xsrfToken,
} from "../signaling";
import { FakeModel, routedFetch, STATUS_LOCAL } from "./fakes";

type Call = { url: string; init: RequestInit };

function fakeFetch(status: number, body: unknown, calls: Call[] = []): typeof fetch {
  return (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    const text = typeof body === "string" ? body : JSON.stringify(body);
    return new Response(text, { status, statusText: "X" });
  }) as unknown as typeof fetch;
}

describe("xsrfToken", () => {
  it("reads the _xsrf cookie among others", () => {
    expect(xsrfToken("a=1; _xsrf=2%7Cabc%3D; b=3")).toBe("2|abc=");
    expect(xsrfToken("a=1")).toBeUndefined();
  });
});

describe("ExtensionClient.createCall", () => {
  it("posts the offer under the base URL and returns the answer", async () => {
    const calls: Call[] = [];
    const answer = { sdp: "v=0\r\n", call_id: "rtc_1", session: { type: "realtime" } };
    const client = new ExtensionClient("/a%40b/", fakeFetch(201, answer, calls));
    await expect(client.createCall("v=0 offer", { type: "realtime" })).resolves.toEqual(answer);
    expect(calls[0]?.url).toBe("/a%40b/api/rt-notebook/calls");
    expect(calls[0]?.init.method).toBe("POST");
    expect(JSON.parse(String(calls[0]?.init.body))).toEqual({
      sdp: "v=0 offer",
      session: { type: "realtime" },
    });
  });

  it("throws the server's error, never an SDP", async () => {
    const error = { error: { code: "invalid_session", message: "use x", param: "session.voice" } };
    const client = new ExtensionClient("/", fakeFetch(400, error));
    const thrown = await client.createCall("v=0", {}).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(SignalingError);
    expect(thrown).toMatchObject({
      status: 400,
      code: "invalid_session",
      message: "use x",
      param: "session.voice",
    });
  });

  it("explains a 404 as a missing server extension", async () => {
    const client = new ExtensionClient("/", fakeFetch(404, "<html>Not Found</html>"));
    await expect(client.createCall("v=0", {})).rejects.toMatchObject({
      code: "extension_missing",
    });
  });

  it("refuses a 2xx body that is not an SDP answer", async () => {
    const client = new ExtensionClient("/", fakeFetch(201, { sdp: "<html>", call_id: null }));
    await expect(client.createCall("v=0", {})).rejects.toMatchObject({ code: "bad_answer" });
  });
});

describe("ExtensionClient.status", () => {
  it("reuses a recent answer, asks again once it is old, and never keeps a failure", async () => {
    const calls: string[] = [];
    let fail = true;
    const fetchImpl = (async (url: string) => {
      calls.push(url);
      if (fail) throw new TypeError("Failed to fetch");
      return new Response(JSON.stringify(STATUS_LOCAL), { status: 200 });
    }) as unknown as typeof fetch;
    const client = new ExtensionClient("/", fetchImpl);
    await expect(client.status()).rejects.toMatchObject({ code: "unreachable" });
    fail = false;
    await expect(client.status(STATUS_MAX_AGE_MS)).resolves.toMatchObject({ backend: "local" });
    expect(calls).toHaveLength(2); // the failure was not reused
    await client.status(STATUS_MAX_AGE_MS);
    expect(calls).toHaveLength(2); // the recent answer was
    await client.status(); // no age allowed: asked again
    expect(calls).toHaveLength(3);
  });
});

describe("chooseRoute", () => {
  it("auto uses the server when its status answers", async () => {
    const calls: string[] = [];
    const client = new ExtensionClient(
      "/lab/",
      routedFetch({ status: [200, STATUS_LOCAL] }, calls),
    );
    const route = await chooseRoute("auto", client, true);
    expect(route).toMatchObject({ mode: "server", status: { backend: "local" } });
    expect(calls).toEqual(["/lab/api/rt-notebook/status"]);
  });

  it("auto falls back to the kernel on 404, network errors and a missing page config", async () => {
    const notFound = new ExtensionClient("/", routedFetch({}));
    expect((await chooseRoute("auto", notFound, true)).mode).toBe("kernel");
    const down = new ExtensionClient("/", routedFetch({ status: "network" }));
    expect((await chooseRoute("auto", down, true)).mode).toBe("kernel");
    const calls: string[] = [];
    const vscode = new ExtensionClient("/", routedFetch({ status: [200, STATUS_LOCAL] }, calls));
    expect((await chooseRoute("auto", vscode, false)).mode).toBe("kernel");
    expect(calls).toEqual([]);
  });

  it("server mode reports a missing extension instead of falling back", async () => {
    const client = new ExtensionClient("/", routedFetch({}));
    await expect(chooseRoute("server", client, true)).rejects.toMatchObject({
      code: "extension_missing",
    });
  });

  it("kernel mode never asks the server", async () => {
    const calls: string[] = [];
    const client = new ExtensionClient("/", routedFetch({ status: [200, STATUS_LOCAL] }, calls));
    expect((await chooseRoute("kernel", client, true)).mode).toBe("kernel");
    expect(calls).toEqual([]);
  });
});

/** A relay wired to a fake model the way the session wires it. */
function relayOnModel(timeoutMs = 30_000) {
  const model = new FakeModel();
  const relay = new KernelRelay((msg) => model.send(msg), timeoutMs);
  model.on("msg:custom", (msg: unknown) => {
    const parsed = parseKernelMessage(msg);
    if (parsed?.kind === "answer") relay.receive(parsed);
  });
  return { model, relay };
}

describe("KernelRelay", () => {
  it("round-trips an offer through the kernel", async () => {
    const { model, relay } = relayOnModel();
    const pending = relay.exchange("v=0 offer", { type: "realtime", model: "gpt-realtime-2.1" });
    const [offer] = model.sentOfKind("offer");
    expect(offer).toMatchObject({
      sdp: "v=0 offer",
      session: { type: "realtime", model: "gpt-realtime-2.1" },
    });
    expect(typeof offer?.id).toBe("string");
    model.kernel({
      kind: "answer",
      id: "someone-else",
      sdp: "v=0 wrong",
      call_id: "x",
      backend: "openai",
    });
    model.kernel({
      kind: "answer",
      id: offer?.id,
      sdp: "v=0 answer",
      call_id: "rtc_9",
      backend: "local",
    });
    await expect(pending).resolves.toEqual({
      sdp: "v=0 answer",
      call_id: "rtc_9",
      backend: "local",
    });
  });

  it("turns an error answer into a SignalingError", async () => {
    const { model, relay } = relayOnModel();
    const pending = relay.exchange("v=0", {});
    const id = model.sentOfKind("offer")[0]?.id;
    model.kernel({
      kind: "answer",
      id,
      error: { status: 401, code: "openai_key_rejected", message: "bad key" },
    });
    await expect(pending).rejects.toMatchObject({
      code: "openai_key_rejected",
      message: "bad key",
    });
  });

  it("times out when the kernel never answers", async () => {
    vi.useFakeTimers();
    try {
      const { relay } = relayOnModel(30_000);
      const pending = relay.exchange("v=0", {});
      const outcome = pending.catch((e: unknown) => e);
      vi.advanceTimersByTime(30_000);
      expect(await outcome).toMatchObject({ code: "kernel_timeout" });
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("negotiate", () => {
  function fakePeer() {
    const accepted: string[] = [];
    return {
      accepted,
      createOffer: async () => "v=0\r\noffer",
      accept: async (sdp: string) => {
        accepted.push(sdp);
      },
    };
  }

  it("hands a good answer to the peer", async () => {
    const peer = fakePeer();
    const exchange = async () => ({
      sdp: "v=0\r\nanswer",
      call_id: "rtc_1",
      backend: "openai" as const,
    });
    await expect(negotiate(peer, exchange, {})).resolves.toMatchObject({ call_id: "rtc_1" });
    expect(peer.accepted).toEqual(["v=0\r\nanswer"]);
  });

  it("refuses an exchange result that is not SDP", async () => {
    const peer = fakePeer();
    const exchange = async () => ({ sdp: "<html>login</html>", call_id: "", backend: "" as const });
    await expect(negotiate(peer, exchange, {})).rejects.toMatchObject({ code: "bad_answer" });
    expect(peer.accepted).toEqual([]);
  });

  it("never feeds an HTTP error to setRemoteDescription", async () => {
    const peer = fakePeer();
    const error = { error: { code: "openai_quota_exceeded", message: "quota" } };
    const client = new ExtensionClient("/", routedFetch({ calls: [429, error] }));
    const exchange = serverExchange(client, STATUS_LOCAL as ServerStatus);
    await expect(negotiate(peer, exchange, {})).rejects.toMatchObject({
      code: "openai_quota_exceeded",
    });
    expect(peer.accepted).toEqual([]);
  });

  it("reports the status's backend, and none while a Hub service has not said", async () => {
    const answer = { sdp: "v=0\r\nanswer", call_id: "rtc_1", session: {} };
    const client = new ExtensionClient("/", routedFetch({ calls: [201, answer] }));
    const local = serverExchange(client, STATUS_LOCAL as ServerStatus);
    await expect(local("v=0 offer", {})).resolves.toMatchObject({ backend: "local" });
    const hub = { ...STATUS_LOCAL, backend: "hub", backend_setting: "hub" } as ServerStatus;
    await expect(serverExchange(client, hub)("v=0 offer", {})).resolves.toMatchObject({
      backend: "",
      call_id: "rtc_1",
    });
  });

  it("never feeds a kernel error or a non-SDP answer to setRemoteDescription", async () => {
    const { model, relay } = relayOnModel();
    const peer = fakePeer();
    const failing = negotiate(peer, relay.exchange, {});
    await vi.waitFor(() => expect(model.sentOfKind("offer")).toHaveLength(1));
    const first = model.sentOfKind("offer")[0]?.id;
    model.kernel({
      kind: "answer",
      id: first,
      error: { status: 400, code: "invalid_session", message: "m" },
    });
    await expect(failing).rejects.toMatchObject({ code: "invalid_session" });

    const garbage = negotiate(peer, relay.exchange, {});
    await vi.waitFor(() => expect(model.sentOfKind("offer")).toHaveLength(2));
    const second = model.sentOfKind("offer")[1]?.id;
    model.kernel({
      kind: "answer",
      id: second,
      sdp: "<html>oops</html>",
      call_id: "",
      backend: "",
    });
    await expect(garbage).rejects.toMatchObject({ code: "bad_answer" });
    expect(peer.accepted).toEqual([]);
  });
});
