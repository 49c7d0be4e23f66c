"""The HTTP side of the Realtime API: the ``/realtime/calls`` SDP exchange and ephemeral keys.

Used by the server extension, and by the kernel when a host has no server extension. The API key
is sent upstream only; every error that comes back is mapped to a :class:`RealtimeError` whose
message a user can act on, with anything key-shaped scrubbed out.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from .._version import __version__
from ..errors import RealtimeError, redact, redacting_logger, register_secret
from .scenario import Scenario
from .signaling import OPENAI_BASE_URL, CallAnswer

if TYPE_CHECKING:
    from .sideband import Sideband

__all__ = [
    "OPENAI_BASE_URL",
    "CallAnswer",
    "OpenAIRealtimeHTTP",
    "call_id_from_location",
    "form_data",
]

log = redacting_logger(__name__)

MAX_ANSWER_BYTES = 1 << 20
"""The most an upstream answer may hold (an SDP answer or a key is a few KB)."""

KEY_HELP = (
    "set OPENAI_API_KEY in the environment of the Jupyter server, or point "
    "--RealtimeExtension.api_key_file at a file holding the key"
)


def call_id_from_location(location: str | None) -> str | None:
    """The last ``rtc_…`` path segment of a ``Location`` header, absolute or relative."""
    if not location:
        return None
    segments = [s for s in urlsplit(location).path.split("/") if s]
    for segment in reversed(segments):
        if segment.startswith("rtc_"):
            return segment
    return segments[-1] if segments else None


def form_data(parts: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """``multipart/form-data`` of ``{name: (content type, payload)}``: the body, in one piece
    (sent in one write, where httpx's ``files=`` streams a dozen small ones), and its
    ``Content-Type``."""
    boundary = secrets.token_hex(16)
    while any(boundary.encode() in payload for _, payload in parts.values()):
        boundary = secrets.token_hex(16)  # a payload that holds it would end its part early
    body = bytearray()
    for name, (content_type, payload) in parts.items():
        body += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        body += payload + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return bytes(body), f"multipart/form-data; boundary={boundary}"


class OpenAIRealtimeHTTP:
    """Talks to ``{base_url}/realtime/...`` with a key that never leaves this object.

    A :class:`~rt_notebook.wire.signaling.RealtimeBackend`.
    """

    name = "openai"

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str,
        api_key: Callable[[], str | None],
        timeout: float,
    ) -> None:
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout = timeout

    async def create_call(
        self, sdp: str, session: dict[str, Any], *, scenario: Scenario | None = None
    ) -> CallAnswer:
        """``POST /realtime/calls`` as multipart ``sdp`` + ``session`` (the unified interface).

        A scenario is for simulating backends: the real model does not play one.
        """
        body, content_type = form_data(
            {
                "sdp": ("application/sdp", sdp.encode()),
                "session": ("application/json", json.dumps(session).encode()),
            }
        )
        response = await self._post(
            "/realtime/calls", content=body, headers={"Content-Type": content_type}
        )
        # signaling.create_call accepts only SDP that answers the offer
        return CallAnswer(
            sdp=response.text, call_id=call_id_from_location(response.headers.get("location"))
        )

    async def create_client_secret(
        self, session: dict[str, Any], expires_after_seconds: int
    ) -> dict[str, Any]:
        """``POST /realtime/client_secrets``: an ``ek_…`` key bound to ``session``."""
        body = {
            "expires_after": {"anchor": "created_at", "seconds": expires_after_seconds},
            "session": session,
        }
        response = await self._post("/realtime/client_secrets", json=body)
        try:
            data = response.json()
            secret = {"value": str(data["value"]), "expires_at": data["expires_at"]}
        except (ValueError, KeyError, TypeError):
            raise RealtimeError(
                502,
                "upstream_bad_answer",
                "The client_secrets answer had no 'value'/'expires_at'; check "
                "RealtimeExtension.api_base_url",
            ) from None
        if isinstance(data.get("session"), dict):
            secret["session"] = data["session"]
        return secret

    async def join_call(self, call_id: str, timeout: float) -> Sideband:
        """``{ws_base}/realtime?call_id=…`` with this object's key."""
        from .sideband import WebSocketSideband, websocket_url

        sideband = WebSocketSideband(call_id, websocket_url(self._base_url), self._api_key() or "")
        await sideband.connect(timeout)
        return sideband

    async def _post(
        self, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        key = self._api_key()
        register_secret(key)
        if not key:
            raise RealtimeError(503, "no_api_key", f"No OpenAI API key is configured: {KEY_HELP}")
        url = f"{self._base_url}{path}"
        headers = {
            **(headers or {}),
            "Authorization": f"Bearer {key}",
            "User-Agent": f"rt_notebook/{__version__}",
        }
        try:  # request_timeout bounds the whole exchange, not each read
            response = await asyncio.wait_for(
                self._exchange(url, headers, **kwargs), timeout=self._timeout
            )
        except (asyncio.TimeoutError, httpx.TimeoutException):
            raise RealtimeError(
                504,
                "upstream_timeout",
                f"{url} did not answer within {self._timeout:g} s "
                "(RealtimeExtension.request_timeout); try again",
            ) from None
        except httpx.HTTPError as exc:
            reason = redact(str(exc) or type(exc).__name__, key)
            raise RealtimeError(
                502,
                "upstream_unreachable",
                f"Could not reach {url}: {reason}. Check the network and "
                "RealtimeExtension.api_base_url",
            ) from None
        if response.is_success:
            return response
        raise _map_error(response, url, key)

    async def _exchange(self, url: str, headers: dict[str, str], **kwargs: Any) -> httpx.Response:
        """POST and read the answer, refusing one over ``MAX_ANSWER_BYTES`` as it arrives."""
        too_large = RealtimeError(
            502,
            "upstream_too_large",
            f"{url} sent more than {MAX_ANSWER_BYTES} bytes; check RealtimeExtension.api_base_url",
        )
        async with self._client.stream(
            "POST", url, headers=headers, timeout=self._timeout, **kwargs
        ) as response:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > MAX_ANSWER_BYTES:
                raise too_large
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_ANSWER_BYTES:
                    raise too_large
        decoded = {
            k: v
            for k, v in response.headers.items()
            if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        }
        return httpx.Response(
            response.status_code, headers=decoded, content=bytes(body), request=response.request
        )


def _map_error(response: httpx.Response, url: str, key: str) -> RealtimeError:
    status = response.status_code
    upstream_code, detail, param = _error_detail(response)
    detail = redact(detail, key)
    said = f" OpenAI said: {detail}" if detail else ""
    if status in (401, 403):
        return RealtimeError(
            502,
            "openai_key_rejected",
            f"The server's OpenAI key was rejected ({status}).{said} To fix it, {KEY_HELP}; "
            "with api_key_file the new key is used without a restart",
        )
    if status == 429:
        if upstream_code == "insufficient_quota":
            message = (
                f"OpenAI quota exhausted for the server's key.{said} "
                "Add credit or raise the project's limits in the OpenAI dashboard"
            )
            code = "openai_quota_exceeded"
        else:
            message = f"OpenAI rate limit reached.{said} Wait a moment and try again"
            code = "openai_rate_limited"
        return RealtimeError(429, code, message, retry_after=response.headers.get("retry-after"))
    if status >= 500:
        return RealtimeError(
            502,
            "openai_server_error",
            f"OpenAI returned a server error ({status}).{said} Try again shortly",
        )
    if status == 404:
        return RealtimeError(
            502,
            "upstream_not_found",
            f"{url} answered 404.{said} Check RealtimeExtension.api_base_url and the model name",
        )
    return RealtimeError(
        400 if status in (400, 409, 422) else 502,
        upstream_code or "openai_invalid_request",
        f"OpenAI refused the request ({status}).{said}",
        param=param,
    )


def _error_detail(response: httpx.Response) -> tuple[str | None, str, str | None]:
    """(code, message, param) from OpenAI's ``{"error": {...}}`` body, or the raw text."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict):
        code = error.get("code") or error.get("type")
        param = error.get("param")
        return (
            str(code) if code else None,
            str(error.get("message") or "").strip(),
            str(param) if param else None,
        )
    text = response.text.strip()
    return None, text[:300], None
