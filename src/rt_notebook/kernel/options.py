"""The keywords a session takes, in one place: those of every session, and each transport's own.

``RealtimeSession(**options: Unpack[RealtimeOptions])`` keeps the keyword call working and
type-checked (PEP 692); :func:`resolve` fills in the defaults and refuses a misspelt keyword
the way a plain signature would; :func:`signature` shows the keywords to ``help()`` and
Jupyter's ``?``.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar, cast

from ..wire.models import DEFAULT_TRANSCRIPTION_MODEL
from ..wire.session_config import SessionConfigError

if TYPE_CHECKING:
    from ..analysis.usage import PriceTable


class SessionOptions(TypedDict, total=False):
    """Keywords of every session (``RealtimeSession`` and ``HeadlessSession``).

    Keys:
        model: The realtime model. Unset: ``rt.DEFAULT_MODEL`` (``"gpt-realtime-2.1"``) for a
            ``HeadlessSession``; for a ``RealtimeSession`` the server extension's
            ``session_defaults`` or first ``allowed_models`` when set, else ``rt.DEFAULT_MODEL``.
            Every call is created with an explicit model. A GPT-Live model (``"gpt-live-1"``)
            makes the session speak GPT-Live.
        protocol: ``"realtime"`` or ``"live"``; by default the model's (``gpt-live-*`` is
            Live; a Live session without a model gets ``gpt-live-1``).
        voice: ``audio.output.voice``, e.g. ``"marin"`` or ``"cedar"``.
        instructions: The system instructions.
        transcription: Input transcription model (default ``rt.DEFAULT_TRANSCRIPTION_MODEL``,
            ``"gpt-transcribe"``); ``None`` switches it off.
        turn_detection: ``"server_vad"`` (default), ``"semantic_vad"``, a full GA config, or
            ``None`` for manual turns.
        session: Any further GA session fields, merged on top (validated; beta-era fields are
            refused with the GA path to use).
        prices: Prices by model, realtime, transcription and GPT-Live (``rt.LivePrices``,
            USD per minute active and paused), for ``cost()`` and the budget (default
            ``rt.PRICES``).
        budget_usd: Stop creating responses and end the call when the cost reaches this.
        local_scenario: Scripted replies used when the call lands on the local backend.
        max_memory_events: Events of the log kept in memory (default 20,000, a few tens of
            MB); older ones move to a temp file and are read back when asked for. ``None``
            keeps every event in memory.
    """

    model: str | None
    protocol: str | None
    voice: str | None
    instructions: str | None
    transcription: str | None
    turn_detection: str | Mapping[str, Any] | None
    session: Mapping[str, Any] | None
    prices: PriceTable | None
    budget_usd: float | None
    local_scenario: list[Any] | None
    max_memory_events: int | None


class RealtimeOptions(SessionOptions, total=False):
    """Keywords of ``RealtimeSession``: those of :class:`SessionOptions`, and

    Keys:
        push_to_talk: A hold-to-talk button instead of an open microphone (manual turns).
        signaling: ``"auto"`` (server extension, else the kernel), ``"server"`` or ``"kernel"``.
        audio_constraints: getUserMedia switches (``echoCancellation``, …; all on by default).
        record_audio: Send microphone and assistant audio to ``recordings`` (default on).
        max_memory_seconds: Audio kept in memory per track (default 600); older audio goes to a
            temp file.
        sideband: The kernel joins the call by ``call_id`` and sends session updates and tool
            outputs itself, so the browser is not the authority for them. This needs the kernel
            to do the exchange (``signaling="kernel"`` is implied): the key (or the local
            backend) is then the kernel's. For a server-held key, use the server extension's
            ``enforce_overrides`` policy instead.
        events_during_cells: Handle the call's events (and run handlers and tools) on the
            widgets' kernel subshell while a cell keeps the kernel busy, instead of after the
            cell: handlers and tools then run on another thread, concurrently with your cell
            (``@s.tool(main_thread=True)`` keeps a tool on the main thread). Needs JupyterLab
            with kernel subshells (ipykernel 7 or later); elsewhere the session says so once and
            events wait for the cell as by default (off). Settable later:
            ``s.events_during_cells = True``.
    """

    push_to_talk: bool
    signaling: str
    audio_constraints: Mapping[str, bool] | None
    record_audio: bool
    max_memory_seconds: float
    sideband: bool
    events_during_cells: bool


class HeadlessOptions(SessionOptions, total=False):
    """Keywords of ``HeadlessSession``: those of :class:`SessionOptions`, and

    Keys:
        url: The realtime WebSocket URL (``ws://127.0.0.1:8765/v1/realtime`` for a standalone
            local backend); default OpenAI's (or ``OPENAI_BASE_URL``'s), or an in-process local
            backend without a key.
        api_key: Default ``OPENAI_API_KEY``.
    """

    url: str | None
    api_key: str | None


DEFAULTS: dict[str, Any] = {
    "model": None,
    "protocol": None,
    "voice": None,
    "instructions": None,
    "transcription": DEFAULT_TRANSCRIPTION_MODEL,
    "turn_detection": "server_vad",
    "session": None,
    "prices": None,
    "budget_usd": None,
    "local_scenario": None,
    "max_memory_events": 20_000,
    "push_to_talk": False,
    "signaling": "auto",
    "audio_constraints": None,
    "record_audio": True,
    "max_memory_seconds": 600.0,
    "sideband": False,
    "events_during_cells": False,
    "url": None,
    "api_key": None,
}
"""The value of every keyword a caller leaves out."""


def keywords(kind: type) -> list[str]:
    """The keywords of an options type, in declaration order."""
    return list(kind.__annotations__)


def resolve(owner: str, kind: type, options: Mapping[str, Any]) -> dict[str, Any]:
    """Every keyword of ``kind`` (given or default); ``TypeError`` for one it does not have."""
    known = keywords(kind)
    for name in options:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise TypeError(f"{owner}() got an unexpected keyword argument {name!r}{hint}")
    return {name: options.get(name, DEFAULTS[name]) for name in known}


def signature(kind: type) -> inspect.Signature:
    """``(*, model=None, voice=None, …)``: what ``help()`` and ``?`` show for a session."""
    return inspect.Signature(
        [
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=DEFAULTS[name],
                annotation=getattr(hint, "__forward_arg__", hint),
            )
            for name, hint in kind.__annotations__.items()
        ]
    )


USER_WORDS = {
    "session.model": "model",
    "session.audio.output.voice": "voice",
    "session.instructions": "instructions",
    "session.audio.input.turn_detection": "turn_detection",
    "session.audio.input.transcription": "transcription",
}
"""The session paths the convenience keywords fill in, to name them as the user wrote them."""

C = TypeVar("C", bound=Callable[..., Any])


def in_user_words(exc: SessionConfigError, given: Mapping[str, Any]) -> SessionConfigError:
    """The error with its field named as the keyword the user gave (``voice=``), if one was."""
    param = exc.param or ""
    for path, keyword in USER_WORDS.items():
        if keyword in given and (param == path or param.startswith(path + ".")):
            return SessionConfigError(exc.message.replace(param, f"{keyword}=", 1), param)
    return exc


def config_errors_at_caller(method: C) -> C:
    """A bad config raises ``SessionConfigError`` from the user's own line, with its one-line
    message and fix, not a stack of library frames (IPython hides this wrapper's frame)."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        try:
            return method(*args, **kwargs)
        except SessionConfigError as exc:
            raise in_user_words(exc, kwargs).with_traceback(None) from None

    return cast(C, wrapper)
