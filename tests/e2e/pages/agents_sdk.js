// A page using OpenAI's own browser SDK, unchanged, against the local backend. Bundled with
// esbuild at test time (tests/e2e/test_origins.py); never committed built.
import { RealtimeAgent, RealtimeSession } from "@openai/agents-realtime";

async function until(check, ms) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}

window.agentsTalk = async (base) => {
  const minted = await fetch(`${base}/realtime/client_secrets`, {
    method: "POST",
    headers: { Authorization: "Bearer sk-page-key", "Content-Type": "application/json" },
    body: JSON.stringify({ session: { type: "realtime", model: "gpt-realtime-2.1" } }),
  });
  const { value } = await minted.json();
  const agent = new RealtimeAgent({ name: "Helper", instructions: "Answer briefly." });
  const session = new RealtimeSession(agent, { transport: "webrtc", model: "gpt-realtime-2.1" });
  const types = [];
  session.transport.on("*", (event) => types.push(event.type));
  await session.connect({ apiKey: value, url: `${base}/realtime/calls` });
  session.sendMessage("Hello there");
  await until(() => types.includes("response.done"), 30000);
  const history = session.history.map((item) => item.role ?? item.type);
  session.close();
  return { keyKind: value.slice(0, 3), types, history };
};
