"""Kernel WebSockets of a server with the extension send small messages at once (no Nagle)."""

from __future__ import annotations

import gc
import json
import socket
from typing import Any

from jupyter_server.services.kernels.websocket import KernelWebsocketHandler


async def test_a_kernel_websocket_has_tcp_nodelay(
    jp_fetch: Any, jp_ws_fetch: Any, jp_serverapp: Any
) -> None:
    settings = jp_serverapp.web_app.settings
    assert settings["kernel_websocket_connection_class"].rt_notebook_no_delay
    kernel = json.loads((await jp_fetch("api", "kernels", method="POST", body="{}")).body)
    ws = await jp_ws_fetch("api", "kernels", kernel["id"], "channels")
    try:
        handlers = [
            o
            for o in gc.get_objects()
            if isinstance(o, KernelWebsocketHandler) and o.ws_connection is not None
        ]
        assert handlers
        for handler in handlers:
            sock = handler.ws_connection.stream.socket
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        ws.close()
        await jp_fetch("api", "kernels", kernel["id"], method="DELETE")
