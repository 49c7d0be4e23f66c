"""The SDP exchange done by the kernel, for hosts without the server extension.

VS Code, Colab, or a Jupyter server with the extension disabled: the widget sends its offer
over the comm and the kernel takes it down the same signaling path as the server extension
(``wire/signaling.py``), to OpenAI (key from the kernel's ``OPENAI_API_KEY``) or, with no key,
to a local backend that runs on a background thread of the kernel (so busy cells do not stall
its audio).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from ..errors import RealtimeError
from ..wire import signaling
from ..wire.protocols import WireProtocol
from ..wire.sideband import Sideband

_TIMEOUT = 30.0


class _BackgroundLoop:
    """An asyncio loop on a daemon thread, shared by every session in the kernel."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="rt_notebook-relay", daemon=True
        )
        self._thread.start()
        self.local: Any = None

    def submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)


_worker: _BackgroundLoop | None = None
_worker_lock = threading.Lock()


def background_loop() -> _BackgroundLoop:
    """The kernel's relay thread, started on first use."""
    global _worker
    with _worker_lock:
        if _worker is None:
            _worker = _BackgroundLoop()
        return _worker


class KernelRelay:
    """Answers ``{kind: "offer"}`` messages from one widget with ``{kind: "answer"}``."""

    def __init__(self, widget: Any) -> None:
        self.widget = widget

    def handle_offer(
        self,
        content: dict[str, Any],
        on_answer: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        """Start the exchange; the answer is sent back (and ``on_answer`` called) on the
        kernel's own loop."""
        request_id = str(content.get("id", ""))
        try:
            kernel_loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            kernel_loop = None
        future = background_loop().submit(exchange(content))

        def deliver(message: dict[str, Any]) -> None:
            self.widget.send(message)
            if on_answer is not None and "error" not in message:
                on_answer(message)

        def reply(done: concurrent.futures.Future[Any]) -> None:
            message = {"kind": "answer", "id": request_id, **done.result()}
            if kernel_loop is not None and kernel_loop.is_running():
                kernel_loop.call_soon_threadsafe(deliver, message)
            else:
                deliver(message)

        future.add_done_callback(reply)


async def exchange(content: dict[str, Any]) -> dict[str, Any]:
    """Validate and exchange one offer; an ``answer`` body or ``{"error": …}``."""
    try:
        request = signaling.read_call_request(content)
        async with kernel_backend(protocol=request.protocol) as backend:
            answer = await signaling.create_call(backend, request)
    except RealtimeError as error:
        return {"error": signaling.error_body(error)}
    return {"sdp": answer.sdp, "call_id": answer.call_id, "backend": backend.name}


@contextlib.asynccontextmanager
async def kernel_backend(
    name: str | None = None, protocol: WireProtocol = "realtime"
) -> AsyncIterator[signaling.RealtimeBackend]:
    """The backend ``name``, or the one the kernel's environment points at: a JupyterHub class
    service (a user's server started by a Hub configured for rt_notebook), OpenAI (or
    ``OPENAI_BASE_URL``) with ``OPENAI_API_KEY``, else the kernel's local backend; speaking
    ``protocol`` (a class service takes Realtime sessions only)."""
    from ..hub.client import HubServiceClient, hub_token, service_url_from_env

    live = protocol == "live"
    if name in (None, "hub") and service_url_from_env() and hub_token():
        if live:  # never around the class's policy to another backend
            raise RealtimeError(
                400,
                "live_unsupported",
                "This server's calls go through the class service (JupyterHub), which takes "
                "Realtime sessions only; use a Realtime model such as gpt-realtime-2.1",
            )
        import httpx

        async with httpx.AsyncClient() as client:
            yield HubServiceClient(client, service_url_from_env(), timeout=_TIMEOUT)
        return
    credentials = signaling.env_credentials()
    if (name or signaling.choose_backend("auto", credentials.api_key)) == "local":
        yield local_backend().as_live() if live else local_backend()
        return
    import httpx

    from ..wire.live_http import OpenAILiveHTTP
    from ..wire.openai_http import OpenAIRealtimeHTTP

    http = OpenAILiveHTTP if live else OpenAIRealtimeHTTP
    async with httpx.AsyncClient() as client:
        yield http(
            client,
            base_url=credentials.base_url,
            api_key=lambda: credentials.api_key,
            timeout=_TIMEOUT,
        )


def local_backend() -> Any:
    """The kernel's local backend (on the relay thread), created on first use."""
    worker = background_loop()
    if worker.local is None:
        from ..local.backend import LocalRealtime

        worker.local = LocalRealtime()
    return worker.local


class ThreadedSideband(Sideband):
    """A sideband living on the relay thread, driven safely from the kernel's thread."""

    def __init__(self, inner: Sideband, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(inner.call_id)
        self._inner, self._loop = inner, loop

    def send(self, event: dict[str, Any]) -> None:
        self.sent.append(event)
        self._loop.call_soon_threadsafe(self._inner.send, event)

    async def close(self) -> None:
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._inner.close(), self._loop))


def join_call(
    call_id: str, backend: str, timeout: float = _TIMEOUT, protocol: WireProtocol = "realtime"
) -> concurrent.futures.Future[ThreadedSideband]:
    """A sideband to a call this kernel exchanged (its local backend's, or OpenAI's), joined
    on the relay thread; the future completes there."""
    worker = background_loop()

    async def join() -> ThreadedSideband:
        async with kernel_backend(backend, protocol) as chosen:
            inner = await chosen.join_call(call_id, timeout)
        return ThreadedSideband(inner, worker.loop)

    return worker.submit(join())
