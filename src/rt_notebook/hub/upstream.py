"""Where the service sends calls: OpenAI (with the key only the service holds) or an
in-process local backend (no key; a class can rehearse offline). Both are the project's
``RealtimeBackend``s, plus what metering needs: knowing a call ended, and hanging it up."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Protocol

import httpx

from ..errors import RealtimeError
from ..local.backend import LocalOptions, LocalRealtime
from ..wire.openai_http import OpenAIRealtimeHTTP
from ..wire.scenario import load_scenario
from ..wire.sideband import Sideband, WebSocketSideband, websocket_url
from ..wire.signaling import RealtimeBackend


class Upstream(RealtimeBackend, Protocol):
    """The realtime backend behind the service."""

    def has_ended(self, sideband: Sideband) -> bool:
        """Whether the call behind a sideband is over."""
        ...

    async def hangup(self, call_id: str) -> None:
        """End a call; one already gone is not an error."""
        ...

    async def close(self) -> None: ...


class _WatchedSideband(WebSocketSideband):
    """A WebSocket sideband that knows when the call closed its socket."""

    ended = False

    async def _read(self) -> None:
        try:
            await super()._read()
        finally:
            self.ended = True


class OpenAIUpstream(OpenAIRealtimeHTTP):
    """OpenAI's Realtime API (or anything shaped like it) with the service's key."""

    def __init__(self, base_url: str, api_key: Callable[[], str | None], timeout: float) -> None:
        self.client = httpx.AsyncClient(follow_redirects=False)
        super().__init__(self.client, base_url=base_url, api_key=api_key, timeout=timeout)
        self._ws_url = websocket_url(base_url)
        self._key = api_key

    async def join_call(self, call_id: str, timeout: float) -> Sideband:
        sideband = _WatchedSideband(call_id, self._ws_url, self._key() or "")
        await sideband.connect(timeout)
        return sideband

    def has_ended(self, sideband: Sideband) -> bool:
        return isinstance(sideband, _WatchedSideband) and sideband.ended

    async def hangup(self, call_id: str) -> None:
        """``POST /realtime/calls/{call_id}/hangup``."""
        with contextlib.suppress(RealtimeError):
            await self._post(f"/realtime/calls/{call_id}/hangup")

    async def close(self) -> None:
        await self.client.aclose()


class LocalUpstream(LocalRealtime):
    """The local backend in the service's process: no key, simulated usage."""

    def __init__(self, scenario: str | None = None) -> None:
        super().__init__(LocalOptions(scenario=load_scenario(scenario) if scenario else None))

    def has_ended(self, sideband: Sideband) -> bool:
        engine = self.sessions.get(sideband.call_id)
        return engine is None or bool(engine.record.closed)

    async def hangup(self, call_id: str) -> None:
        with contextlib.suppress(RealtimeError):
            await super().hangup(call_id)
