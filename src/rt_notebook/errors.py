"""The one error type every rt_notebook entry point reports, shaped like OpenAI's."""

from __future__ import annotations

import re

from .wire.widget_protocol import ErrorBody, ErrorDetail

_SECRET_PATTERNS = re.compile(r"\b(sk-[A-Za-z0-9_*\-]{4,}|ek_[A-Za-z0-9_\-]{4,})")


class RealtimeError(Exception):
    """A failure a user can act on: an HTTP status, a stable code and a plain message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        param: str | None = None,
        retry_after: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        """HTTP status to answer with."""
        self.code = code
        """Stable machine-readable code, e.g. ``openai_key_rejected``."""
        self.message = message
        """What went wrong and what to do about it."""
        self.param = param
        """The request field at fault, when there is one."""
        self.retry_after = retry_after
        """Seconds to wait before retrying (for 429s), as the ``Retry-After`` header value."""

    def detail(self) -> ErrorDetail:
        """``{code, message, param?}``, as the server and the kernel relay report it."""
        error: ErrorDetail = {"code": self.code, "message": self.message}
        if self.param is not None:
            error["param"] = self.param
        return error

    def to_json(self) -> ErrorBody:
        """The ``{"error": {...}}`` body sent to clients."""
        return {"error": self.detail()}


def scrub_secrets(text: str, *secrets: str | None) -> str:
    """Remove API keys and anything key-shaped from text that may reach a user or a log."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return _SECRET_PATTERNS.sub("[redacted]", text)
