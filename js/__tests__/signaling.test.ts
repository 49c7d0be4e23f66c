import { describe, expect, it } from "vitest";
import { ExtensionClient, SignalingError, xsrfToken } from "../signaling";

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
