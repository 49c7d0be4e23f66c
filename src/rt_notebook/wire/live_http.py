"""The HTTP side of GPT-Live: the ``POST /live/sessions`` JSON exchange and ``/attach``.

A :class:`~rt_notebook.wire.signaling.RealtimeBackend` beside the Realtime one
(``openai_http.py``), sharing its key handling, deadline, size cap and error mapping. Live has
no ephemeral keys: the server (or the kernel) always relays the browser's offer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import RealtimeError
from .openai_http import OpenAIRealtimeHTTP
from .scenario import Scenario
from .signaling import CallAnswer

if TYPE_CHECKING:
    from .sideband import Sideband

__all__ = ["NO_EPHEMERAL_KEYS", "OpenAILiveHTTP", "read_live_answer"]

NO_EPHEMERAL_KEYS = (
    "GPT-Live has no ephemeral keys: the server relays the browser's offer "
    "(POST /v1/live/sessions) with its own key."
)


def read_live_answer(data: object) -> CallAnswer:
    """``{session: {id}, transport: {type: "webrtc", sdp}}`` as a :class:`CallAnswer`; a 502
    when the body is not that shape."""
    session = data.get("session") if isinstance(data, dict) else None
    transport = data.get("transport") if isinstance(data, dict) else None
    session_id = session.get("id") if isinstance(session, dict) else None
    sdp = transport.get("sdp") if isinstance(transport, dict) else None
    if not isinstance(session_id, str) or not session_id or not isinstance(sdp, str):
        raise RealtimeError(
            502,
            "upstream_bad_answer",
            "The live/sessions answer had no session.id or transport.sdp; check "
            "RealtimeExtension.api_base_url",
        )
    return CallAnswer(sdp=sdp, call_id=session_id)  # the id is opaque: kept exactly


class OpenAILiveHTTP(OpenAIRealtimeHTTP):
    """Talks to ``{base_url}/live/...`` with a key that never leaves this object."""

    async def create_call(
        self, sdp: str, session: dict[str, Any], *, scenario: Scenario | None = None
    ) -> CallAnswer:
        """``POST /live/sessions`` with ``{session, transport: {type: "webrtc", sdp}}``."""
        body = {"session": session, "transport": {"type": "webrtc", "sdp": sdp}}
        response = await self._post("/live/sessions", json=body)
        try:
            data = response.json()
        except ValueError:
            data = None
        return read_live_answer(data)

    async def create_client_secret(
        self, session: dict[str, Any], expires_after_seconds: int
    ) -> dict[str, Any]:
        raise RealtimeError(400, "ephemeral_keys_unsupported", NO_EPHEMERAL_KEYS)

    async def join_call(self, call_id: str, timeout: float) -> Sideband:
        """``{ws_base}/live/sessions/{id}/attach`` with this object's key."""
        from urllib.parse import quote

        from .sideband import WebSocketSideband, websocket_base

        url = f"{websocket_base(self._base_url)}/live/sessions/{quote(call_id, safe='')}/attach"
        sideband = WebSocketSideband(call_id, url, self._api_key() or "", query=False)
        await sideband.connect(timeout)
        return sideband
