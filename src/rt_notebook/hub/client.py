"""A user's Jupyter server talking to the class service (``RealtimeExtension.backend="hub"``).

It sends the SDP exchange with the server's own Hub token (``JUPYTERHUB_API_TOKEN``, which
identifies the user), so the service can check the user with JupyterHub and apply the class's
policy. No OpenAI key is needed, or present, on this side.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import httpx

from ..errors import RealtimeError
from ..wire.scenario import Scenario
from ..wire.sideband import Sideband
from ..wire.signaling import CallAnswer

SERVICE_URL_ENV = "RT_NOTEBOOK_HUB_SERVICE_URL"
"""Where the extension finds the service unless ``RealtimeExtension.hub_service_url`` is set."""


def service_url_from_env() -> str:
    """``RT_NOTEBOOK_HUB_SERVICE_URL`` (set for users' servers by the Hub's config)."""
    return os.environ.get(SERVICE_URL_ENV, "")


def hub_token() -> str | None:
    """The Hub token JupyterHub gives every user's server."""
    return os.environ.get("JUPYTERHUB_API_TOKEN") or None


class HubServiceClient:
    """The class service as a ``RealtimeBackend`` of the server extension."""

    name = "hub"

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        *,
        token: Callable[[], str | None] = hub_token,
        timeout: float = 30.0,
    ) -> None:
        self._client = client
        self.url = url.rstrip("/") + "/"
        self._token = token
        self._timeout = timeout

    async def create_call(
        self, sdp: str, session: dict[str, Any], *, scenario: Scenario | None = None
    ) -> CallAnswer:
        request: dict[str, Any] = {"sdp": sdp, "session": session}
        if scenario is not None:  # played if the service runs the local backend
            request["local"] = {"scenario": scenario}
        body = await self._request("POST", "api/calls", request)
        sdp_answer, call_id = body.get("sdp"), body.get("call_id")
        if not isinstance(sdp_answer, str) or not sdp_answer.startswith("v=0"):
            raise RealtimeError(502, "bad_answer", "The class service returned no SDP answer")
        return CallAnswer(sdp=sdp_answer, call_id=str(call_id) if call_id else None)

    async def create_client_secret(
        self, session: dict[str, Any], expires_after_seconds: int
    ) -> dict[str, Any]:
        return await self._request(
            "POST",
            "api/client-secrets",
            {"session": session, "expires_after_seconds": expires_after_seconds},
        )

    async def join_call(self, call_id: str, timeout: float) -> Sideband:
        raise RealtimeError(
            409,
            "held_by_hub_service",
            "The class service holds this call's sideband; the user's server cannot join it",
        )

    async def hangup(self, call_id: str) -> dict[str, Any]:
        """End one of the user's calls."""
        return await self._request("POST", f"api/calls/{call_id}/hangup", {})

    async def me(self) -> dict[str, Any]:
        """The user's rules and remaining budget."""
        return await self._request("GET", "api/me")

    async def call(self, call_id: str) -> dict[str, Any]:
        """One of the user's calls, with why it ended."""
        return await self._request("GET", f"api/calls/{call_id}")

    async def _request(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        token = self._token()
        if not token:
            raise RealtimeError(
                503,
                "no_hub_token",
                "RealtimeExtension.backend is 'hub' but this server has no JUPYTERHUB_API_TOKEN: "
                "it must be started by JupyterHub",
            )
        url = self.url + path
        try:
            response = await self._client.request(
                method,
                url,
                headers={"Authorization": f"token {token}"},
                content=None if body is None else json.dumps(body),
                timeout=self._timeout,
            )
        except httpx.TimeoutException:
            raise RealtimeError(
                504, "hub_service_timeout", f"The class service at {url} did not answer in time"
            ) from None
        except httpx.HTTPError as exc:
            raise RealtimeError(
                502,
                "hub_service_unreachable",
                f"Could not reach the class service at {url} ({type(exc).__name__}); check "
                "RealtimeExtension.hub_service_url and that the Hub service is running",
            ) from None
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.is_success and isinstance(data, dict):
            return data
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict) and error.get("message"):
            raise RealtimeError(
                response.status_code,
                str(error.get("code") or "error"),
                str(error["message"]),
                param=error.get("param"),
                retry_after=response.headers.get("retry-after"),
            )
        raise RealtimeError(
            502,
            "hub_service_bad_answer",
            f"The class service at {url} answered {response.status_code} without a JSON body",
        )
