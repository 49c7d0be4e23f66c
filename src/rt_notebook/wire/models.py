"""OpenAI's Realtime and transcription models: which exist, which are deprecated, the defaults.

The model names and deprecation notes come from the installed openai-python's types when it
can be imported (read on first use, never at ``import rt_notebook``). The table here holds what
the SDK does not say (replacements) and the models this release knows, which is all there is
when openai is absent. ``tests/kernel/test_models.py`` fails when a newer openai-python lists a
model or a deprecation this table lacks.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.util
import re
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "DEFAULT_LIVE_MODEL",
    "DEFAULT_MODEL",
    "DEFAULT_TRANSCRIPTION_MODEL",
    "LIVE_MODELS",
    "REALTIME_MODELS",
    "TRANSCRIPTION_MODELS",
    "Deprecation",
    "ModelDeprecationWarning",
    "deprecation",
    "is_known",
    "is_known_live",
    "sdk_models",
]

ModelKind = Literal["realtime", "transcription"]

DEFAULT_MODEL = "gpt-realtime-2.1"
"""The realtime model every session asks for unless told otherwise: the current flagship."""

DEFAULT_TRANSCRIPTION_MODEL = "gpt-transcribe"
"""The input transcription model sessions use unless told otherwise."""

# The models openai-python 3.57.0 lists (RealtimeSessionCreateRequest.model and
# AudioTranscription.model); GPT-Live models are out of scope and absent from both types.
REALTIME_MODELS: tuple[str, ...] = (
    "gpt-realtime-2.1",
    "gpt-realtime-2.1-mini",
    "gpt-realtime-2",
    "gpt-realtime-1.5",
    "gpt-realtime",
    "gpt-realtime-2025-08-28",
    "gpt-realtime-mini",
    "gpt-realtime-mini-2025-10-06",
    "gpt-realtime-mini-2025-12-15",
    "gpt-4o-realtime-preview",
    "gpt-4o-realtime-preview-2024-10-01",
    "gpt-4o-realtime-preview-2024-12-17",
    "gpt-4o-realtime-preview-2025-06-03",
    "gpt-4o-mini-realtime-preview",
    "gpt-4o-mini-realtime-preview-2024-12-17",
    "gpt-audio-1.5",
    "gpt-audio-mini",
    "gpt-audio-mini-2025-10-06",
    "gpt-audio-mini-2025-12-15",
)
"""Realtime session models this release knows."""

TRANSCRIPTION_MODELS: tuple[str, ...] = (
    "gpt-transcribe",
    "gpt-realtime-whisper",
    "gpt-live-transcribe",
    "gpt-4o-transcribe",
    "gpt-4o-mini-transcribe",
    "gpt-4o-mini-transcribe-2025-12-15",
    "gpt-4o-transcribe-diarize",
    "whisper-1",
)
"""Input transcription models this release knows."""

LIVE_MODELS: tuple[str, ...] = ("gpt-live-1", "gpt-live-1.1")
"""GPT-Live session models this release knows (``openai.types.live.SessionConfig.model``);
they speak the Live protocol, not Realtime (``wire/protocols.py``)."""

DEFAULT_LIVE_MODEL = "gpt-live-1"
"""The GPT-Live model a Live session asks for unless told otherwise."""

_REALTIME_2027 = dt.date(2027, 1, 20)
_TRANSCRIPTION_2027 = dt.date(2027, 2, 26)

# model: (announced shutdown, recommended replacement). openai-python's docstrings carry the
# dates of most of these (and win where both speak); the replacements are from OpenAI's
# deprecations page. The preview models are not marked in the SDK's types; OpenAI retires
# them with gpt-realtime. (The -2025-10-06 mini snapshots carry no notice, so none here.)
_DEPRECATED: dict[str, tuple[dt.date, str]] = {
    "gpt-realtime": (_REALTIME_2027, "gpt-realtime-2.1"),
    "gpt-realtime-2025-08-28": (_REALTIME_2027, "gpt-realtime-2.1"),
    "gpt-realtime-mini": (_REALTIME_2027, "gpt-realtime-2.1-mini"),
    "gpt-realtime-mini-2025-12-15": (_REALTIME_2027, "gpt-realtime-2.1-mini"),
    "gpt-audio-mini": (_REALTIME_2027, "gpt-realtime-2.1-mini"),
    "gpt-audio-mini-2025-12-15": (_REALTIME_2027, "gpt-realtime-2.1-mini"),
    "gpt-4o-realtime-preview": (_REALTIME_2027, "gpt-realtime-2.1"),
    "gpt-4o-realtime-preview-2024-10-01": (_REALTIME_2027, "gpt-realtime-2.1"),
    "gpt-4o-realtime-preview-2024-12-17": (_REALTIME_2027, "gpt-realtime-2.1"),
    "gpt-4o-realtime-preview-2025-06-03": (_REALTIME_2027, "gpt-realtime-2.1"),
    "gpt-4o-mini-realtime-preview": (_REALTIME_2027, "gpt-realtime-2.1-mini"),
    "gpt-4o-mini-realtime-preview-2024-12-17": (_REALTIME_2027, "gpt-realtime-2.1-mini"),
    "whisper-1": (_TRANSCRIPTION_2027, "gpt-transcribe"),
    "gpt-4o-transcribe": (_TRANSCRIPTION_2027, "gpt-transcribe"),
    "gpt-4o-mini-transcribe": (_TRANSCRIPTION_2027, "gpt-transcribe"),
    "gpt-4o-mini-transcribe-2025-12-15": (_TRANSCRIPTION_2027, "gpt-transcribe"),
    "gpt-4o-transcribe-diarize": (_TRANSCRIPTION_2027, "gpt-transcribe"),
}


class ModelDeprecationWarning(FutureWarning):
    """A session uses a model OpenAI has announced it will shut down.

    A ``FutureWarning``, so notebooks show it by default (Python hides plain
    ``DeprecationWarning``s outside ``__main__``).
    """


@dataclass(frozen=True)
class Deprecation:
    """An announced shutdown of a model."""

    model: str
    """The deprecated model."""
    kind: ModelKind
    """``"realtime"`` (``session.model``) or ``"transcription"``."""
    shutdown: dt.date
    """The day OpenAI stops serving it."""
    replacement: str
    """The model to move to."""

    @property
    def param(self) -> str:
        """The session field that names the model."""
        if self.kind == "realtime":
            return "session.model"
        return "session.audio.input.transcription.model"

    def is_shut_down(self, today: dt.date | None = None) -> bool:
        """Whether the shutdown date has come (UTC)."""
        return (today or utc_today()) >= self.shutdown

    def message(self, today: dt.date | None = None) -> str:
        """One sentence for a user: what, when, and what to use instead."""
        what = "model" if self.kind == "realtime" else "transcription model"
        if self.is_shut_down(today):
            return (
                f"The {what} {self.model!r} was shut down by OpenAI on {self.shutdown}; "
                f"use {self.replacement!r} instead."
            )
        return (
            f"The {what} {self.model!r} is deprecated: OpenAI shuts it down on "
            f"{self.shutdown}. Use {self.replacement!r} instead."
        )

    def to_json(self, today: dt.date | None = None) -> dict[str, str | bool]:
        """The notice as JSON (the server extension's status)."""
        return {
            "model": self.model,
            "kind": self.kind,
            "shutdown": self.shutdown.isoformat(),
            "replacement": self.replacement,
            "shut_down": self.is_shut_down(today),
            "message": self.message(today),
        }


def utc_today() -> dt.date:
    """Today in UTC, the calendar OpenAI's shutdown dates use."""
    return dt.datetime.now(dt.timezone.utc).date()


@dataclass(frozen=True)
class SdkModels:
    """What the installed openai-python says about models."""

    version: str
    realtime: tuple[str, ...]
    transcription: tuple[str, ...]
    shutdowns: dict[str, dt.date]
    """Deprecated models by name, with the announced shutdown date from the docstrings."""


@functools.lru_cache(maxsize=1)
def sdk_models() -> SdkModels | None:
    """The model lists and deprecation notes of the installed openai-python, or ``None``."""
    try:
        import openai
        from openai.types.realtime import audio_transcription, realtime_session_create_request
    except ImportError:
        return None
    request = realtime_session_create_request.RealtimeSessionCreateRequest
    transcription = audio_transcription.AudioTranscription
    return SdkModels(
        version=openai.__version__,
        realtime=_literals(request.model_fields["model"].annotation),
        transcription=_literals(transcription.model_fields["model"].annotation),
        shutdowns=sdk_shutdowns(),
    )


_NOTED_IN = ("realtime_session_create_request.py", "audio_transcription.py")


@functools.lru_cache(maxsize=1)
def sdk_shutdowns() -> dict[str, dt.date]:
    """The deprecation notes in openai-python's types, read from their source text.

    Reading the text (not importing openai, which takes about half a second) keeps every
    session's deprecation check cheap; ``{}`` when openai-python is not installed.
    """
    spec = importlib.util.find_spec("openai")
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    notes: dict[str, dt.date] = {}
    for root in roots:
        for name in _NOTED_IN:
            path = Path(root, "types", "realtime", name)
            if path.is_file():
                notes.update(_deprecation_notes(path.read_text()))
    return notes


def _literals(annotation: object) -> tuple[str, ...]:
    """Every string in the ``Literal`` types inside an annotation (unions included)."""
    if typing.get_origin(annotation) is Literal:
        return tuple(a for a in typing.get_args(annotation) if isinstance(a, str))
    return tuple(name for arg in typing.get_args(annotation) for name in _literals(arg))


_NOTE = re.compile(
    r"^\s*-\s+((?:\"[^\"]+\",?\s*)+):\s*Announced shutdown date:\s*(\d{4}-\d{2}-\d{2})"
)


def _deprecation_notes(source: str) -> dict[str, dt.date]:
    """``- "a", "b": Announced shutdown date: YYYY-MM-DD`` notes in a docstring, by model."""
    notes: dict[str, dt.date] = {}
    for block in source.split("Deprecated values:")[1:]:
        text = " ".join(block.split('"""', 1)[0].split())  # one line per note, unwrapped
        for entry in re.split(r"\s(?=-\s+\")", " " + text):
            match = _NOTE.match(entry)
            if match:
                day = dt.date.fromisoformat(match.group(2))
                notes.update(dict.fromkeys(re.findall(r'"([^"]+)"', match.group(1)), day))
    return notes


def known_models(kind: ModelKind) -> frozenset[str]:
    """The model names OpenAI accepts for ``kind``: this table's and the SDK's."""
    ours = REALTIME_MODELS if kind == "realtime" else TRANSCRIPTION_MODELS
    sdk = sdk_models()
    theirs: Iterable[str] = () if sdk is None else getattr(sdk, kind)
    return frozenset((*ours, *theirs))


def is_known(model: str, kind: ModelKind = "realtime") -> bool:
    """Whether OpenAI lists ``model`` (this table, or the installed openai-python)."""
    ours = REALTIME_MODELS if kind == "realtime" else TRANSCRIPTION_MODELS
    return model in ours or model in known_models(kind)


@functools.lru_cache(maxsize=1)
def _sdk_live_models() -> tuple[str, ...]:
    try:
        from openai.types.live import session_config
    except ImportError:
        return ()
    return _literals(session_config.SessionConfig.model_fields["model"].annotation)


def is_known_live(model: str) -> bool:
    """Whether OpenAI lists ``model`` as a GPT-Live model (this table, or openai-python)."""
    return model in LIVE_MODELS or model in _sdk_live_models()


def deprecation(model: str | None, kind: ModelKind = "realtime") -> Deprecation | None:
    """The announced shutdown of ``model``, or ``None`` when it is current (or unknown)."""
    if not model:
        return None
    ours = _DEPRECATED.get(model)
    announced = sdk_shutdowns().get(model)
    if announced is not None:
        shutdown = announced
    elif ours is not None:
        shutdown = ours[0]
    else:
        return None
    replacement = ours[1] if ours else _default(kind)
    return Deprecation(model=model, kind=kind, shutdown=shutdown, replacement=replacement)


def _default(kind: ModelKind) -> str:
    return DEFAULT_MODEL if kind == "realtime" else DEFAULT_TRANSCRIPTION_MODEL
