"""The widget ⇄ kernel protocol and the server extension's REST bodies: the one schema.

Traits, custom messages (each with a ``kind``), the ``GET …/status`` body and the error shapes
are declared here, once. ``scripts/gen_protocol.py`` writes ``js/generated/protocol.ts`` and the
tables of ``docs/widget-protocol.md`` from this module (a test checks they are current), and
the kernel's widget, session and server handlers use these types.

Docstrings of the types are Markdown (they land in the docs and the TypeScript). No
``from __future__ import annotations`` here: the generator reads the annotations at run time.
"""

from dataclasses import dataclass
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from typing_extensions import NotRequired, TypeAliasType, TypedDict

# ---- names and values -------------------------------------------------------------------

Status = TypeAliasType(
    "Status",
    Literal["idle", "connecting", "connected", "interrupted", "reconnecting", "closed", "error"],
)
"""Connection state of the widget's call (`reconnecting`: the connection was lost and a new
call with the same session is being set up; the conversation is replayed into it)."""
SignalingMode = TypeAliasType("SignalingMode", Literal["auto", "server", "kernel"])
"""How the SDP offer is exchanged: the server extension, the kernel, or whichever works."""
BackendName = TypeAliasType("BackendName", Literal["openai", "local"])
"""Where a call goes: OpenAI, or rt_notebook's local backend."""
Backend = TypeAliasType("Backend", Literal["", "hub"] | BackendName)
"""The `backend` trait: `""` until a call has been answered; `"hub"` when the kernel relayed
it to a JupyterHub class service."""
BackendSetting = TypeAliasType("BackendSetting", Literal["auto", "openai", "local", "hub"])
"""The server extension's `backend` option."""
WireProtocol = TypeAliasType("WireProtocol", Literal["realtime", "live"])
"""Which of OpenAI's voice APIs a session speaks: Realtime, or GPT-Live (`gpt-live-*`)."""
Direction = TypeAliasType("Direction", Literal["server", "client"])
"""Who sent an event: the API (`server`) or the client."""
Track = TypeAliasType("Track", Literal["mic", "assistant"])
"""A recorded audio track."""
Route = TypeAliasType("Route", Literal["", "server", "kernel", "kernel-fallback"])
"""Who exchanged the current call's offer: the server extension, the kernel (asked for), or
the kernel because the server extension did not answer (`kernel-fallback`); `""` before."""
TurnMode = TypeAliasType("TurnMode", Literal["server_vad", "semantic_vad", "push_to_talk"])
"""How a turn ends: the server's voice activity detection, its semantic one, or a held
button."""
DownloadKind = TypeAliasType(
    "DownloadKind",
    Literal["transcript.md", "transcript.jsonl", "events.jsonl", "mic.wav", "assistant.wav"],
)
"""What the widget can download from the kernel's copy of the session."""
RealtimeEvent = TypeAliasType("RealtimeEvent", dict[str, Any])
"""Any GA realtime event on the `oai-events` channel, in either direction (a string `type`
and the event's own fields)."""

TS_SPELLINGS: dict[object, str] = {RealtimeEvent: "{ type: string; [key: string]: unknown }"}
"""Shapes Python's types cannot say exactly, spelled for TypeScript."""

# ---- shapes -----------------------------------------------------------------------------


class WidgetError(TypedDict):
    """What went wrong and, when known, how to fix it (the `error` trait)."""

    code: str
    message: str
    fix: NotRequired[str]


class AudioConstraints(TypedDict, total=False):
    """getUserMedia's audio processing switches."""

    echoCancellation: bool
    noiseSuppression: bool
    autoGainControl: bool


class LocalOptions(TypedDict, total=False):
    """Options for the local backend, sent with the offer (OpenAI never sees them)."""

    scenario: list[Any]


class CostFigures(TypedDict):
    """The session's running usage, priced by the kernel (`s.cost()`): tokens in and out,
    USD, and whether any of it is estimated."""

    input_tokens: int
    output_tokens: int
    usd: float
    estimated: bool


class Continuity(TypedDict, total=False):
    """What the widget does when a call is lost or about to expire."""

    attempts: int
    """New calls tried after the connection is lost (`0`: none, the session ends)."""
    rollover: bool
    """Before the session's `expires_at`, move to a new call without a gap."""


class EventEntry(TypedDict):
    """One entry of an `events` batch: who sent it, when (browser epoch ms), and what."""

    dir: Direction
    t: float
    event: RealtimeEvent


class BinaryTarget(TypedDict):
    """Where `send` writes its buffer as a data URL: keys and indices into `event`."""

    path: list[str | int]
    mime: str


class ErrorDetail(TypedDict):
    """A refusal, as the server extension and the kernel relay describe it."""

    code: str
    message: str
    param: NotRequired[str]


class CallError(ErrorDetail):
    """A failed offer exchange: the HTTP status (0 when none) and the refusal."""

    status: int


# ---- traits -----------------------------------------------------------------------------

Writer = Literal["Python", "JS", "both"]


@dataclass(frozen=True)
class Trait:
    """One synced trait of the widget (snake_case on both sides)."""

    name: str
    type: Any
    """A type of this module: how it crosses the comm."""
    default: Any
    writer: Writer
    """Who writes it; the other side only reads it."""
    doc: str


TRAITS: tuple[Trait, ...] = (
    Trait(
        "session_config",
        dict[str, Any],
        {},
        "Python",
        'the session, already validated: a flat GA one (`{"type": "realtime", …}`) or a GPT-Live '
        'one (`{"model": "gpt-live-1", …}`); sent with the offer',
    ),
    Trait(
        "protocol",
        WireProtocol,
        "realtime",
        "Python",
        "the session's protocol: GPT-Live's data channel speaks other events (§9 of "
        "live-protocol.md), and its offer waits for ICE gathering",
    ),
    Trait("signaling", SignalingMode, "auto", "Python", "how the offer is exchanged (below)"),
    Trait("status", Status, "idle", "JS", "connection state"),
    Trait(
        "error",
        WidgetError | None,
        None,
        "both",
        "the last error, shown in the widget with its fix",
    ),
    Trait(
        "notice",
        str,
        "",
        "Python",
        "a lasting notice (a deprecated model: its shutdown date and replacement), shown as a "
        'banner; `""` when none',
    ),
    Trait(
        "backend",
        Backend,
        "",
        "JS",
        "where the session went; the UI shows a banner for `local`",
    ),
    Trait("call_id", str, "", "JS", 'the `rtc_…` id of the current call (`""` when none)'),
    Trait("muted", bool, False, "both", "microphone track disabled"),
    Trait(
        "push_to_talk",
        bool,
        False,
        "Python",
        "the UI shows a hold-to-talk button instead of an open microphone",
    ),
    Trait("mic_device_id", str, "", "both", 'the chosen microphone `deviceId` (`""` = default)'),
    Trait(
        "audio_constraints",
        AudioConstraints,
        {"echoCancellation": True, "noiseSuppression": True, "autoGainControl": True},
        "Python",
        "getUserMedia's audio processing switches",
    ),
    Trait(
        "record_audio",
        bool,
        True,
        "Python",
        "send microphone and assistant audio to the kernel (`audio` messages)",
    ),
    Trait(
        "continuity",
        Continuity,
        {"attempts": 3, "rollover": True},
        "Python",
        "reconnect attempts after a lost connection, and rollover before the session expires",
    ),
    Trait(
        "local_options",
        LocalOptions,
        {},
        "Python",
        "sent with the offer as `local`; scripts the call when it lands on the local backend",
    ),
    Trait(
        "route",
        Route,
        "",
        "JS",
        "who exchanged the offer; with `kernel-fallback` the widget says the server extension "
        "is missing and how to install it (`s.signaling_path` in Python)",
    ),
    Trait(
        "voices",
        list[str],
        [],
        "Python",
        "the built-in voices (`session_config.VOICES`), offered by the settings form; any "
        "other is checked by the kernel",
    ),
    Trait(
        "cost",
        CostFigures | None,
        None,
        "Python",
        "the running tokens and USD of the session, updated after each response",
    ),
)
"""The widget's traits, in the order the docs list them."""

# ---- messages, kernel → widget ----------------------------------------------------------


class ConnectMessage(TypedDict):
    """Start a session (same as the Connect button)."""

    kind: Literal["connect"]


class DisconnectMessage(TypedDict):
    """Close it (same as the Disconnect button)."""

    kind: Literal["disconnect"]


class SendMessage(TypedDict):
    """Send `event` on `oai-events` (queued until the channel is open). With `binary` and one
    buffer, the buffer's bytes become a `data:<mime>;base64,…` URL written at `path` first, so
    bulky images cross the comm as binary."""

    kind: Literal["send"]
    event: RealtimeEvent
    binary: NotRequired[BinaryTarget]


class ReplayMessage(TypedDict):
    """After a reconnect (the `rt_notebook.reconnected` event): the conversation so far, as
    client events, sent into the new call before anything the kernel sent meanwhile."""

    kind: Literal["replay"]
    events: list[RealtimeEvent]


class AcceptedAnswer(TypedDict):
    """Completes a kernel-relayed offer: the SDP answer, the call and where it went."""

    kind: Literal["answer"]
    id: str
    sdp: str
    call_id: str
    backend: Backend


class RefusedAnswer(TypedDict):
    """Fails a kernel-relayed offer; the widget shows the error and never hands it to
    WebRTC."""

    kind: Literal["answer"]
    id: str
    error: CallError


AnswerMessage = TypeAliasType("AnswerMessage", AcceptedAnswer | RefusedAnswer)
"""The kernel's reply to an `offer`, sent whatever happened."""


class FileMessage(TypedDict):
    """Answers `download`: the file as the one buffer, with its name and type."""

    kind: Literal["file"]
    id: str
    name: str
    mime: str


class FileRefused(TypedDict):
    """Answers `download` when there is nothing to give (e.g. no recording)."""

    kind: Literal["file"]
    id: str
    error: WidgetError


KernelMessage = TypeAliasType(
    "KernelMessage",
    ConnectMessage
    | DisconnectMessage
    | SendMessage
    | ReplayMessage
    | AnswerMessage
    | FileMessage
    | FileRefused,
)
"""Every custom message the kernel sends the widget."""

# ---- messages, widget → kernel ----------------------------------------------------------


class EventsMessage(TypedDict):
    """Every data-channel event in both directions, in order; `t` is the browser's epoch time
    in ms (`performance.timeOrigin + performance.now()`). Batched without delay while the
    kernel keeps up: events go in the next task while fewer than 2 sends await the kernel's ack
    (its idle status), so the events of one network read (a function call's) go in one message;
    beyond that, events are grouped until an ack comes, at most 50 ms after the last send (or
    200 at a time); `session.created`, `response.function_call_arguments.done`, `response.done`
    and `error` go at once with everything before them, whatever awaits its ack.
    Bursts neither flood the comm nor reorder. For these messages the kernel publishes `idle`
    but no `busy` unless a cell runs, so a call does not make the kernel indicator flicker."""

    kind: Literal["events"]
    batch: list[EventEntry]


class OfferMessage(TypedDict):
    """Kernel relay: please exchange this offer (below); answered by `answer` with the same
    `id`."""

    kind: Literal["offer"]
    id: str
    sdp: str
    session: dict[str, Any]
    local: NotRequired[LocalOptions]


class AudioMessage(TypedDict):
    """About 500 ms of recorded audio as its one buffer: PCM16 mono 24 kHz; `t` is the epoch
    ms of its first sample (AudioWorklet, ScriptProcessor fallback)."""

    kind: Literal["audio"]
    track: Track
    t: float


class DownloadMessage(TypedDict):
    """Ask the kernel for a file of the session (its full transcript, event log or a
    recording); answered by `file` with the same `id`."""

    kind: Literal["download"]
    id: str
    what: DownloadKind


class ConfigureMessage(TypedDict):
    """The settings form (before connecting): the kernel validates the change with the
    session's own validator and updates `session_config` (and `push_to_talk`), or sets
    `error` with the fix."""

    kind: Literal["configure"]
    voice: NotRequired[str]
    instructions: NotRequired[str]
    turn_mode: NotRequired[TurnMode]


WidgetMessage = TypeAliasType(
    "WidgetMessage",
    EventsMessage | OfferMessage | AudioMessage | DownloadMessage | ConfigureMessage,
)
"""Every custom message the widget sends the kernel."""

# ---- the server extension's REST bodies -------------------------------------------------


class HubRemaining(TypedDict):
    """What a JupyterHub class service lets the user spend still (`null`: no limit)."""

    usd_today: float | None
    usd_term: float | None
    minutes_today: float | None


class HubBudget(TypedDict, total=False):
    """With `backend="hub"`: the class service's word on the user's rules and what is left,
    or the error asking it."""

    user: str
    remaining: HubRemaining
    error: ErrorDetail


class ModelNotice(TypedDict):
    """A deprecated model the server's configuration names: when OpenAI shuts it down and
    what replaces it."""

    model: str
    kind: Literal["realtime", "transcription"]
    shutdown: str
    replacement: str
    shut_down: bool
    message: str


class ServerStatus(TypedDict):
    """`GET api/rt-notebook/status`: what the widget needs to know before connecting. With
    `backend_setting: "hub"`, `backend` is the class service's (`"hub"` while it cannot be
    asked) and `budget` what the service says is left, or `{error}`."""

    backend: BackendName | Literal["hub"]
    backend_setting: BackendSetting
    key_configured: bool
    allowed_models: list[str]
    session_defaults: dict[str, Any]
    overridden_fields: list[str]
    default_model: str
    model_notices: list[ModelNotice]
    version: str
    budget: NotRequired[HubBudget]


class CallRequest(TypedDict):
    """`POST api/rt-notebook/calls`: an SDP offer and the session to create."""

    sdp: str
    session: dict[str, Any]
    local: NotRequired[LocalOptions]


class CallAnswer(TypedDict):
    """The `201` answer to `POST api/rt-notebook/calls`."""

    sdp: str
    call_id: str | None
    session: dict[str, Any]


class CallRecord(TypedDict):
    """`GET api/rt-notebook/calls/{call_id}` (`backend="hub"` only): the class service's
    record of a call; `end_code` says why it ended."""

    call_id: str
    end_code: str | None
    end_message: str | None


class ErrorBody(TypedDict):
    """Every error answer of the server extension (shaped like OpenAI's)."""

    error: ErrorDetail


REST_BODIES: tuple[Any, ...] = (ServerStatus, CallRequest, CallAnswer, CallRecord, ErrorBody)
"""The server extension's bodies, in the order the docs list them."""


def literal_values(tp: Any) -> list[Any]:
    """The values a literal type (or an alias or union of literals) allows; ``[]`` for any
    other type."""
    if isinstance(tp, TypeAliasType):
        return literal_values(tp.__value__)
    if get_origin(tp) is Literal:
        return list(get_args(tp))
    if get_origin(tp) in (Union, UnionType):
        parts = [literal_values(arg) for arg in get_args(tp)]
        return [value for part in parts for value in part] if all(parts) else []
    return []


def union_members(tp: Any) -> list[Any]:
    """The members of a union, through aliases: the message types of ``KernelMessage``."""
    if isinstance(tp, TypeAliasType):
        return union_members(tp.__value__)
    if get_origin(tp) in (Union, UnionType):
        return [member for arg in get_args(tp) for member in union_members(arg)]
    return [tp]


TRAIT = {trait.name: trait for trait in TRAITS}
"""The traits by name."""
