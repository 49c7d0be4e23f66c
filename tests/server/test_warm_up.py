"""The extension loads the HTTP client's event-loop machinery when the server starts, so a
user's first call after a restart does not wait for imports (15-45 ms here)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

FRESH_SERVER = textwrap.dedent(
    """
    import asyncio, json, sys
    import httpx
    from rt_notebook.server.app import RealtimeExtension

    def loaded():
        return {m for m in sys.modules if m.split(".")[0] in ("anyio", "sniffio")}

    async def answer(reader, writer):
        await reader.readuntil(b"\\r\\n\\r\\n")
        writer.write(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok")
        await writer.drain()
        writer.close()

    async def main():
        before = loaded()
        await RealtimeExtension()._start_jupyter_server_extension(None)
        warmed = loaded()
        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with httpx.AsyncClient() as client:
            reply = await client.get(f"http://127.0.0.1:{port}/")
        server.close()
        return {
            "status": reply.status_code,
            "by_warm_up": sorted(warmed - before),
            "by_first_request": sorted(loaded() - warmed),
        }

    print(json.dumps(asyncio.run(main())))
    """
)


def test_start_loads_what_the_first_upstream_request_would() -> None:
    out = subprocess.run(
        [sys.executable, "-c", FRESH_SERVER], capture_output=True, text=True, timeout=60, check=True
    )
    result = json.loads(out.stdout)
    assert result["status"] == 200
    assert "anyio._backends._asyncio" in result["by_warm_up"]
    assert result["by_first_request"] == []
