// What a page on a foreign origin tries against the local backend: read the sessions, mint a
// key, open a WebSocket, and a "simple" no-cors POST that needs no preflight.
window.attack = async (base) => {
  const tried = {};
  const attempt = async (name, run) => {
    try {
      tried[name] = await run();
    } catch (error) {
      tried[name] = `refused: ${error}`;
    }
  };
  const auth = { Authorization: "Bearer sk-anything" };
  await attempt("sessions", async () => (await fetch(`${base}/local/sessions`, { headers: auth })).status);
  await attempt("mint", async () => {
    const response = await fetch(`${base}/realtime/client_secrets`, {
      method: "POST",
      headers: { ...auth, "Content-Type": "application/json" },
      body: "{}",
    });
    return (await response.json()).value;
  });
  await attempt("blind_post", async () => {
    await fetch(`${base}/realtime/client_secrets`, { method: "POST", mode: "no-cors", body: "{}" });
    return "sent";
  });
  await attempt("websocket", () =>
    new Promise((resolve) => {
      const socket = new WebSocket(`${base.replace("http", "ws")}/realtime?model=gpt-realtime`);
      socket.onopen = () => resolve("open");
      socket.onerror = () => resolve("refused: error");
    }),
  );
  return tried;
};
