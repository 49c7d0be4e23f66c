"""Kernel WebSockets without Nagle's algorithm, so small kernel messages are not held back.

Jupyter Server's kernel WebSocket leaves TCP_NODELAY off (tornado's default). A kernel answers
a widget message with several small ones in a row (the ``busy`` status, then a tool's output,
then ``idle``); with Nagle on, each small write after the first waits for the browser to
acknowledge the one before, and browsers delay that acknowledgement by up to 40 ms. That was
most of a tool call's overhead and of the widget's event batching latency. The extension wraps
the server's kernel WebSocket connection class so each connection turns it on.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

__all__ = ["no_delay_kernel_websockets"]

_SETTING = "kernel_websocket_connection_class"


def no_delay_kernel_websockets(settings: MutableMapping[str, Any]) -> None:
    """Make every kernel WebSocket of this server send small messages at once (idempotent)."""
    base = settings.get(_SETTING)
    if base is None:
        from jupyter_server.services.kernels.connection.channels import (
            ZMQChannelsWebsocketConnection,
        )

        base = ZMQChannelsWebsocketConnection
    if getattr(base, "rt_notebook_no_delay", False):
        return

    class NoDelayConnection(base):  # type: ignore[misc,valid-type]
        """The server's kernel WebSocket connection, with TCP_NODELAY on."""

        rt_notebook_no_delay = True

        def connect(self) -> Any:  # the handler awaits what the base class returns
            handler = getattr(self, "websocket_handler", None)
            if handler is not None and handler.ws_connection is not None:
                handler.set_nodelay(True)
            return super().connect()

    NoDelayConnection.__name__ = NoDelayConnection.__qualname__ = f"NoDelay{base.__name__}"
    settings[_SETTING] = NoDelayConnection
