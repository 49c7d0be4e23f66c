"""The one error type every rt_notebook entry point reports (shaped like OpenAI's), and the one
redaction applied to everything that leaves the server or the kernel."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any, TypeVar, cast

from .wire.widget_protocol import ErrorBody, ErrorDetail

_KEY_SHAPED = re.compile(
    r"\b(sk-[A-Za-z0-9_*\-]{4,}|ek_[A-Za-z0-9_\-]{4,})|(?<=Bearer )[^\s\"',;]{8,}", re.IGNORECASE
)
_REDACTED = "[redacted]"
_known_secrets: list[str] = []
_MAX_KNOWN = 16
T = TypeVar("T")


def register_secret(secret: str | None) -> None:
    """Remember a secret this process holds (an API key as it is read), so :func:`redact`
    removes it even where it is not key-shaped."""
    if secret and len(secret) >= 8 and secret not in _known_secrets:
        _known_secrets.append(secret)
        del _known_secrets[:-_MAX_KNOWN]


def redact(value: T, *secrets: str | None) -> T:
    """The one redaction, for everything that leaves the server or the kernel.

    Every string in ``value`` (through dicts, lists and tuples) loses the given ``secrets``,
    every registered one, ``Bearer`` credentials and anything key-shaped (``sk-…``, ``ek_…``).
    """
    cleaned: Any = value
    if isinstance(value, str):
        for secret in (*secrets, *_known_secrets):
            if secret:
                cleaned = cleaned.replace(secret, _REDACTED)
        cleaned = _KEY_SHAPED.sub(_REDACTED, cleaned)
    elif isinstance(value, dict):
        cleaned = {redact(k, *secrets): redact(v, *secrets) for k, v in value.items()}
    elif isinstance(value, (list, tuple)):
        cleaned = type(value)(redact(v, *secrets) for v in value)
    return cast("T", cleaned)


class RedactingFilter(logging.Filter):
    """Applies :func:`redact` to a log record's message and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the format: keep both, as text
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = redact(message), None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


REDACTING = RedactingFilter()


def redact_every_log_record(argv: list[str] | None = None) -> None:
    """Redact every log record of this process as it is made, and the key given on the command
    line (``--RealtimeExtension.api_key=…``), whatever its shape.

    For the Jupyter server process, called as it discovers extensions: before the extension
    starts, traitlets logs every application's whole config at debug level ("Config changed:
    …"), the key included, on loggers created after this call.
    """
    args = sys.argv if argv is None else argv
    for i, arg in enumerate(args):
        name, _, value = arg.partition("=")
        if name.lstrip("-") in ("RealtimeExtension.api_key", "RealtimeExtension.api-key"):
            register_secret(value or (args[i + 1] if i + 1 < len(args) else None))
    factory = logging.getLogRecordFactory()
    if getattr(factory, "redacting", False):
        return

    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        REDACTING.filter(record)
        return record

    make_record.redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make_record)


def redacting_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` whose records are redacted before any handler sees them."""
    logger = logging.getLogger(name)
    if REDACTING not in logger.filters:
        logger.addFilter(REDACTING)
    return logger


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
        code, message, param = redact((code, message, param))
        super().__init__(message)
        self.status = status
        """HTTP status to answer with."""
        self.code = code
        """Stable machine-readable code, e.g. ``openai_key_rejected`` (redacted, as are all
        the fields: an upstream may echo anything into them)."""
        self.message = message
        """What went wrong and what to do about it."""
        self.param = param
        """The request field at fault, when there is one."""
        self.retry_after = retry_after if retry_after and retry_after.isdigit() else None
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
