"""Matplotlib figures of a session: timeline, latencies, waveform, talk time, tokens and cost."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter
from matplotlib.transforms import Bbox, TransformedPath, offset_copy

from ..wire.audio import SAMPLE_RATE
from ..wire.events import RECONNECTED
from .recorded import SessionAnalysis
from .transcript import Turn

PALETTE: dict[str, str] = {
    "user": "#2c6fbb",
    "assistant": "#e07b24",
    "latency": "#6b6b6b",
    "tool": "#8e44ad",
    "input_tokens": "#2c6fbb",
    "output_tokens": "#e07b24",
    "cost": "#2a9d55",
}
"""Colours used by every plot: per role, and for latencies, tools, tokens and cost."""

ROLES: tuple[str, str] = ("user", "assistant")
SPECTROGRAM_NFFT = 512
_ENVELOPE_ABOVE = 100_000  # longer audio is drawn as a min/max envelope
_ENVELOPE_BINS = 4000
_LABEL = 9  # font size of annotations


class AudioTrack(Protocol):
    """Audio with its start time, e.g. ``session.recordings.mic``."""

    @property
    def samples(self) -> npt.NDArray[Any]:
        """Mono samples (int16 or float), 24 kHz unless the object has ``sample_rate``."""
        ...

    @property
    def start_time(self) -> float | None:
        """Epoch seconds of the first sample."""
        ...


AudioLike = tuple[npt.ArrayLike, float] | AudioTrack
"""``(samples, start_time)`` or an object with ``.samples`` and ``.start_time``."""


@dataclass(frozen=True)
class _Span:
    turn: Turn
    start: float  # seconds since the session's first event
    end: float


def _new_figure(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    """The given axes and their figure, or a new figure that pyplot does not track."""
    if ax is not None:
        fig = ax.figure
        return (fig.figure if isinstance(fig, SubFigure) else fig), ax
    fig = _figure(figsize=size)
    return fig, fig.add_subplot()


def _figure(**kwargs: Any) -> Figure:
    """A figure that shows as a PNG in notebooks even when pyplot was never imported."""
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import select_figure_formats
    except ImportError:
        get_ipython = None
    shell = get_ipython() if get_ipython is not None else None
    if shell is not None:
        printers = shell.display_formatter.formatters["image/png"].type_printers
        if Figure not in printers:
            select_figure_formats(shell, {"png"})  # type: ignore[no-untyped-call]
    return Figure(layout="constrained", **kwargs)


def visible_extent(text: Text, renderer: Any) -> Bbox | None:
    """Where a text's ink can be seen, in display pixels: its box cut to its clip box and
    clip path; ``None`` when hidden, empty or clipped away."""
    if not text.get_visible() or not text.get_text().strip():
        return None
    box: Bbox | None = text.get_window_extent(renderer)
    if text.get_clip_on():
        clip_box = text.get_clip_box()
        if clip_box is not None and box is not None:
            box = Bbox.intersection(box, clip_box)
        clip_path = text.get_clip_path()
        if isinstance(clip_path, TransformedPath) and box is not None:
            path, affine = clip_path.get_transformed_path_and_affine()
            box = Bbox.intersection(box, affine.transform_path(path).get_extents())
    return box if box is not None and box.width > 0.5 and box.height > 0.5 else None


def overlaps(a: Bbox, b: Bbox) -> bool:
    """Two boxes share more than a hairline (half a pixel)."""
    return bool(a.x0 < b.x1 - 0.5 and b.x0 < a.x1 - 0.5 and a.y0 < b.y1 - 0.5 and b.y0 < a.y1 - 0.5)


def _renderer(fig: Figure) -> Any:
    """A renderer of the figure after its layout, or ``None`` (an interactive canvas)."""
    from matplotlib.backend_bases import FigureCanvasBase
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if type(fig.canvas) is FigureCanvasBase:
        FigureCanvasAgg(fig)
    if not isinstance(fig.canvas, FigureCanvasAgg):
        return None
    fig.canvas.draw()  # type: ignore[no-untyped-call]
    return fig.canvas.get_renderer()  # type: ignore[no-untyped-call]


def _shorten(text: Text, right: float, renderer: Any) -> None:
    """Cut the text with "…" until it ends before ``right`` (display x)."""
    words = text.get_text().rstrip("…")
    low, high = 0, len(words)
    while low < high:  # the longest prefix that fits
        mid = (low + high + 1) // 2
        text.set_text(words[:mid].rstrip() + "…")
        if text.get_window_extent(renderer).x1 < right - 1:
            low = mid
        else:
            high = mid - 1
    text.set_text(words[:low].rstrip() + "…" if low else "")


def _declutter(fig: Figure, labels: Sequence[Text], *, own_layout: bool) -> None:
    """Labels never overlap: each keeps its place unless it hits an earlier one; then it is
    cut short ("…") if it starts left of it, or moved a line up or down, or else hidden."""
    renderer = _renderer(fig)
    if renderer is None:
        return
    if own_layout:
        fig.set_layout_engine("none")  # positions as laid out, so they hold when shown
    placed: list[Bbox] = []
    for text in labels:
        box = visible_extent(text, renderer)
        if box is None:
            continue
        base = text.get_transform()
        line = box.height * 72.0 / fig.dpi + 1.0  # points
        for shift in (0.0, -1.0, 1.0, -2.0, 2.0):
            text.set_transform(offset_copy(base, fig=fig, y=shift * line, units="points"))
            box = visible_extent(text, renderer)
            hit = next((p for p in placed if box is not None and overlaps(box, p)), None)
            if box is not None and hit is not None and box.x0 < hit.x0 and shift == 0.0:
                _shorten(text, hit.x0, renderer)
                box = visible_extent(text, renderer)
                hit = next((p for p in placed if box is not None and overlaps(box, p)), None)
            if box is not None and hit is None:
                placed.append(box)
                break
        else:
            text.set_visible(False)


def _t0(session: SessionAnalysis) -> float:
    return session.events[0].time if len(session.events) else 0.0


def _spans(session: SessionAnalysis, t0: float) -> list[_Span]:
    """Each turn's extent: start to end, covering its audio when that ran longer.

    Assistant turns without a start (no text delta) start at their response's first output.
    """
    first_output = {
        row["response_id"]: row["first_output_t"] or row["created_t"] for row in session.latencies()
    }
    spans = []
    for turn in session.transcript:
        if turn.role == "tool":
            continue  # the lanes are who spoke
        start = turn.start
        if start is None and turn.response_id is not None:
            start = first_output.get(turn.response_id)
        if start is None:
            start = turn.end
        if start is None:
            continue
        end = turn.end if turn.end is not None else start
        if turn.audio_ms:
            end = max(end, start + turn.audio_ms / 1000.0)
        spans.append(_Span(turn, start - t0, end - t0))
    return spans


def _min_width(spans: Sequence[_Span]) -> float:
    """Bars for instantaneous turns (typed text) get this width, to stay visible."""
    extent = max((s.end for s in spans), default=0.0) - min((s.start for s in spans), default=0.0)
    return max(0.15, 0.004 * extent)


def _no_data(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", color="0.4")


def timeline(session: SessionAnalysis, *, ax: Axes | None = None) -> Figure:
    """Who spoke when: a lane per role, and each response's latency from its trigger.

    Bars run from a turn's start to its end (or to the end of its audio, if later); typed
    turns are thin and faded, interrupted assistant turns hatched. Between the lanes, an arrow
    runs from the trigger (end of speech, typed message, tool output) to ``response.created``,
    labelled with ``response_ms``; the shaded span runs on to the first output, whose latency
    is written under it.
    """
    own = ax is None
    fig, ax = _new_figure(ax, (12, 3.2))
    t0 = _t0(session)
    spans = _spans(session, t0)
    labels: list[Text] = []
    lane = {"user": 1.0, "assistant": 0.0}
    height = 0.5
    min_width = _min_width(spans)
    for span in spans:
        turn = span.turn
        typed = turn.modality == "text"
        width = max(span.end - span.start, min_width if typed else 0.0)
        (bar,) = ax.barh(
            lane[turn.role],
            width,
            left=span.start,
            height=height,
            color=PALETTE[turn.role],
            alpha=0.45 if typed else 0.85,
            edgecolor="black" if turn.interrupted else PALETTE[turn.role],
            hatch="///" if turn.interrupted else None,
            linestyle=":" if typed else "-",
            gid=f"turn:{turn.role}",
        )
        if turn.text and typed:  # too thin to write in: the words go after the bar
            label = ax.text(
                span.start + width * 1.5,
                lane[turn.role],
                f"“{turn.text}”",
                va="center",
                fontsize=7,
                style="italic",
                clip_on=True,
            )
            labels.append(label)
        elif turn.text:
            label = ax.text(
                span.start + 0.05,
                lane[turn.role],
                turn.text,
                va="center",
                fontsize=7,
                color="white",
                clip_on=True,
            )
            label.set_clip_path(bar)  # keep the words inside the bar
            labels.append(label)

    for row in session.latencies():
        if row["anchor_t"] is None or row["response_ms"] is None:
            continue
        start = row["anchor_t"] - t0
        created = row["created_t"] - t0
        end = created if row["first_output_t"] is None else row["first_output_t"] - t0
        ax.add_patch(
            Rectangle(
                (start, 0.33),
                end - start,
                0.34,
                color=PALETTE["latency"],
                alpha=0.2,
                linewidth=0,
                gid="latency:span",
            )
        )
        ax.annotate(
            "",
            xy=(created, 0.5),
            xytext=(start, 0.5),
            arrowprops={
                "arrowstyle": "->",
                "color": PALETTE["latency"],
                "shrinkA": 0,
                "shrinkB": 0,
            },
        )
        response_label = ax.text(
            (start + created) / 2,
            0.56,
            f"{row['response_ms']:.0f} ms",
            ha="center",
            va="bottom",
            fontsize=_LABEL - 1,
            color="0.2",
            gid="latency:response_ms",
        )
        labels.append(response_label)
        if row["first_output_ms"] is not None:
            first_label = ax.text(
                end,
                0.44,
                f"{row['first_output_ms']:.0f} ms",
                ha="right",
                va="top",
                fontsize=_LABEL - 2,
                style="italic",
                color="0.35",
                gid="latency:first_output_ms",
            )
            labels.append(first_label)

    for marker in session.events.of(RECONNECTED):  # the session went on in a new call
        rollover = bool(marker.raw.get("rollover"))
        at = marker.time - t0
        ax.axvline(at, color="0.3", linestyle="--", linewidth=1, gid="continuity:new_call")
        label = ax.text(
            at,
            1.55,
            " rolled over" if rollover else " reconnected",
            fontsize=_LABEL - 1,
            color="0.3",
            va="bottom",
            gid="continuity:label",
        )
        labels.append(label)

    ax.set_yticks([lane["assistant"], lane["user"]], ["assistant", "user"])
    ax.set_ylim(-0.5, 1.95)  # room for the legend on top
    ax.set_xlabel("seconds since session start")
    ax.set_title("Who spoke when")
    if spans:
        right = max(max(s.end for s in spans), _last_event(session, t0))
        ax.set_xlim(min(0.0, min(s.start for s in spans)), right + 0.03 * right + 0.1)
    else:
        _no_data(ax, "no turns yet")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(
        handles=[
            Patch(color=PALETTE["user"], alpha=0.85, label="user"),
            Patch(color=PALETTE["assistant"], alpha=0.85, label="assistant"),
            Patch(facecolor="white", edgecolor="black", hatch="///", label="interrupted"),
            Patch(facecolor="0.8", edgecolor="0.3", linestyle=":", label="typed"),
            Line2D([], [], color=PALETTE["latency"], marker=">", label="trigger → created"),
            Patch(color=PALETTE["latency"], alpha=0.2, label="trigger → first output"),
        ],
        loc="upper right",
        ncols=6,
        fontsize=_LABEL - 1,
        frameon=False,
        handlelength=1.5,
        columnspacing=1.2,
    )
    _declutter(fig, labels, own_layout=own)
    return fig


def _last_event(session: SessionAnalysis, t0: float) -> float:
    return session.events[len(session.events) - 1].time - t0 if len(session.events) else 0.0


_LATENCY_ROWS = (
    ("response_ms", "trigger → response\ncreated"),
    ("first_output_ms", "trigger → first\noutput"),
)


def latency_distribution(session: SessionAnalysis, *, ax: Axes | None = None) -> Figure:
    """Each latency's values as points over an interquartile box, median and p90 marked.

    Rows: ``response_ms``, ``first_output_ms`` and, when there were tool calls, their
    durations (arguments done → output sent).
    """
    fig, ax = _new_figure(ax, (8, 3.4))
    latencies = session.latencies()
    rows: list[tuple[str, str, list[float]]] = [
        (name, label, [float(v) for v in latencies.column(name) if v is not None])
        for name, label in _LATENCY_ROWS
    ]
    durations = [float(v) for v in session.tool_calls().column("duration_ms") if v is not None]
    if durations:
        rows.append(("tool_call_ms", "tool call\nduration", durations))
    for i, (name, _, values) in enumerate(rows):
        y = len(rows) - 1 - i  # first row on top
        if not values:
            ax.text(0.02, y, "no data", transform=ax.get_yaxis_transform(), va="center")
            continue
        data = np.array(values)
        colour = PALETTE["tool"] if name == "tool_call_ms" else PALETTE["latency"]
        q1, median, q3, p90 = np.percentile(data, [25, 50, 75, 90])
        ax.plot([data.min(), data.max()], [y, y], color=colour, linewidth=1, alpha=0.6)
        ax.add_patch(
            Rectangle((q1, y - 0.2), q3 - q1, 0.4, facecolor=colour, alpha=0.15, edgecolor=colour)
        )
        jitter = np.linspace(-0.12, 0.12, len(data)) if len(data) > 1 else np.zeros(1)
        ax.scatter(data, y + jitter, s=22, color=colour, zorder=3, gid=f"points:{name}")
        ax.plot(
            [median, median], [y - 0.3, y + 0.3], color="black", linewidth=2, gid=f"median:{name}"
        )
        ax.plot([p90, p90], [y - 0.3, y + 0.3], color="crimson", linestyle="--", gid=f"p90:{name}")
        ax.text(
            data.min(),
            y + 0.33,
            f"median {median:.0f} ms · p90 {p90:.0f} ms · n={len(data)}",
            fontsize=_LABEL - 1,
            va="bottom",
            gid=f"summary:{name}",
        )
    ax.set_yticks(range(len(rows)), [label for _, label, _ in reversed(rows)])
    ax.set_ylim(-0.6, len(rows) - 0.2)
    ax.set_xlabel("milliseconds")
    ax.set_title("Latency distribution")
    left, right = ax.get_xlim()
    ax.set_xlim(min(0.0, left), right + 0.05 * (right - left))
    ax.grid(axis="x", alpha=0.3)
    ax.legend(
        handles=[
            Line2D([], [], color="black", linewidth=2, label="median"),
            Line2D([], [], color="crimson", linestyle="--", label="p90"),
            Patch(facecolor="0.6", alpha=0.3, label="25-75%"),
        ],
        loc="lower right",
        fontsize=_LABEL - 1,
    )
    return fig


def _audio(audio: AudioLike) -> tuple[npt.NDArray[np.float64], float, float]:
    """Samples as floats in [-1, 1], start time and sample rate."""
    start: float | None
    if isinstance(audio, tuple):
        if len(audio) != 2:
            raise ValueError("audio must be (samples, start_time)")
        raw, start, rate = np.asarray(audio[0]), audio[1], float(SAMPLE_RATE)
    else:
        raw, start = np.asarray(audio.samples), audio.start_time
        rate = float(getattr(audio, "sample_rate", SAMPLE_RATE))
    if raw.ndim != 1:
        raise ValueError(f"audio must be mono (1-D samples), got shape {raw.shape}")
    if start is None or not raw.size:
        raise ValueError("the audio is empty: nothing was recorded yet")
    if np.issubdtype(raw.dtype, np.integer):
        samples = raw.astype(np.float64) / float(np.iinfo(raw.dtype).max)
    else:
        samples = raw.astype(np.float64)
    return samples, float(start), rate


def waveform(
    session: SessionAnalysis,
    audio: AudioLike | None = None,
    *,
    spectrogram: bool = False,
    ax: Axes | None = None,
) -> Figure:
    """The audio (or its spectrogram), with each turn shaded in its role's colour.

    ``audio`` is ``(samples, start_time)`` (1-D, 24 kHz, start in epoch seconds) or an object
    with ``.samples`` and ``.start_time``, such as ``session.recordings.mic`` or
    ``session.recordings.assistant``. Long audio is drawn as a min/max envelope.
    """
    if audio is None:
        raise ValueError(
            "waveform() needs audio: pass audio=session.recordings.mic (or .assistant), "
            "recorded by a live RealtimeSession(record_audio=True), or (samples, start_time) "
            "with 1-D 24 kHz samples and the epoch time of the first one"
        )
    samples, start, rate = _audio(audio)
    own = ax is None
    fig, ax = _new_figure(ax, (12, 3))
    t0 = _t0(session)
    x0 = start - t0
    x1 = x0 + len(samples) / rate
    if spectrogram:
        if len(samples) < SPECTROGRAM_NFFT:
            raise ValueError(f"a spectrogram needs at least {SPECTROGRAM_NFFT} samples")
        # a faint fixed dither keeps digital silence (recording gaps) off log(0)
        dither = np.random.default_rng(0).standard_normal(len(samples)) * 1e-7
        spectrum, _, _, image = ax.specgram(
            samples + dither,
            NFFT=SPECTROGRAM_NFFT,
            Fs=rate,
            noverlap=SPECTROGRAM_NFFT * 3 // 4,
            xextent=(x0, x1),
            cmap="magma",
        )
        top = 10.0 * float(np.log10(spectrum.max()))  # the image is in dB
        image.set_clim(top - 80.0, top)  # 80 dB of dynamic range
        ax.set_ylabel("frequency (Hz)")
        ax.set_title("Spectrogram (dB) with turns")
    else:
        times = x0 + np.arange(len(samples)) / rate
        if len(samples) > _ENVELOPE_ABOVE:
            bins = np.array_split(np.arange(len(samples)), _ENVELOPE_BINS)
            edges = np.array([times[b[0]] for b in bins])
            low = np.array([samples[b].min() for b in bins])
            high = np.array([samples[b].max() for b in bins])
            ax.fill_between(edges, low, high, color="0.25", linewidth=0, gid="waveform")
        else:
            ax.plot(times, samples, color="0.25", linewidth=0.6, gid="waveform")
        ax.set_ylabel("amplitude")
        ax.set_ylim(-1.05, 1.05)
        ax.set_title("Waveform with turns")
    spans = _spans(session, t0)
    min_width = _min_width(spans)
    labels: list[Text] = []
    for span in spans:
        role = span.turn.role
        ax.axvspan(
            span.start,
            max(span.end, span.start + min_width),
            color=PALETTE[role],
            alpha=0.35 if spectrogram else 0.18,
            linewidth=0,
            zorder=0 if not spectrogram else 2,  # behind the waveform, over the spectrogram
            gid=f"turn:{role}",
        )
        label = ax.text(
            span.start,
            0.98,
            role,
            transform=ax.get_xaxis_transform(),
            va="top",
            fontsize=_LABEL - 1,
            color=PALETTE[role],
            fontweight="bold",
            clip_on=True,
        )
        labels.append(label)
    ax.set_xlim(min([0.0, x0] + [s.start for s in spans]), max([x1] + [s.end for s in spans]))
    ax.set_xlabel("seconds since session start")
    _declutter(fig, labels, own_layout=own)
    return fig


def _talk(turns: Sequence[Turn]) -> dict[str, tuple[float, int]]:
    """Per role: seconds spoken and words said, spoken turns only (typed text has no time)."""
    totals = dict.fromkeys(ROLES, (0.0, 0))
    for turn in turns:
        if turn.modality != "audio":
            continue
        if turn.audio_ms is not None:
            seconds = turn.audio_ms / 1000.0
        elif turn.start is not None and turn.end is not None:
            seconds = max(0.0, turn.end - turn.start)
        else:
            seconds = 0.0
        spoken, words = totals[turn.role]
        totals[turn.role] = (spoken + seconds, words + len(turn.text.split()))
    return totals


def talk_time(session: SessionAnalysis, *, ax: Axes | None = None) -> Figure:
    """Seconds spoken (left axis) and words per minute (right axis), per role.

    Spoken turns only: a turn's time is its audio length when known, else end - start; its
    words are those of ``text`` (for an interrupted reply, the part that was heard).
    """
    fig, ax = _new_figure(ax, (7, 3.6))
    totals = _talk(list(session.transcript))
    rate = ax.twinx()
    width = 0.38
    for i, role in enumerate(ROLES):
        seconds, words = totals[role]
        wpm = words / (seconds / 60.0) if seconds else 0.0
        offset = (i - 0.5) * width
        talk = ax.bar(
            0 + offset, seconds, width, color=PALETTE[role], label=role, gid=f"talk:{role}"
        )
        ax.bar_label(talk, [f"{seconds:.1f} s"], fontsize=_LABEL)
        speed = rate.bar(1 + offset, wpm, width, color=PALETTE[role], alpha=0.7, gid=f"wpm:{role}")
        rate.bar_label(speed, [f"{wpm:.0f}"], fontsize=_LABEL)
    ax.set_xticks([0, 1], ["talk time", "words per minute"])
    ax.set_ylabel("talk time (s)")
    rate.set_ylabel("words per minute")
    for axis in (ax, rate):
        axis.set_ylim(0, max(axis.get_ylim()[1] * 1.15, 1.0))
    ax.set_title("Talk time and speaking rate")
    ax.legend(loc="upper left", fontsize=_LABEL)
    return fig


def tokens_and_cost(session: SessionAnalysis, *, ax: Axes | None = None) -> Figure:
    """Cumulative input and output tokens (left axis) and cost in USD (right axis) over time.

    Tokens step at each ``response.done`` carrying usage; the cost steps there and at each
    input transcription (billed apart), so it ends at ``cost()``. Costs marked ≈ are estimates
    (the server sent only token totals, priced as audio).
    """
    fig, ax = _new_figure(ax, (10, 3.4))
    t0 = _t0(session)
    rows = session.usage()
    billed = sorted((*rows, *session.transcription_usage()), key=lambda row: float(row["t"]))
    cost_axis = ax.twinx()
    times = [0.0] + [row["t"] - t0 for row in rows]
    end = max(times[-1], _last_event(session, t0), *(row["t"] - t0 for row in billed))
    times.append(end + max(0.3, 0.03 * end))  # carry the totals past the end of the session

    def cumulative(key: str) -> list[float]:  # an unknown cost (no price) counts as nothing
        values = [0.0, *np.cumsum([row[key] or 0.0 for row in rows]).tolist()]
        return values + values[-1:] * (len(times) - len(values))

    lines = [
        ax.step(
            times,
            cumulative(key),
            where="post",
            color=PALETTE[key],
            label=label,
            gid=f"cumulative:{key}",
        )[0]
        for key, label in (("input_tokens", "input tokens"), ("output_tokens", "output tokens"))
    ]
    cost_times = [0.0, *(row["t"] - t0 for row in billed), times[-1]]
    costs = [0.0, *np.cumsum([row["cost_usd"] or 0.0 for row in billed]).tolist()]
    costs.append(costs[-1])  # an unknown cost (no price) counts as nothing
    estimated = any(row["estimated"] for row in billed)
    unpriced = any(row["cost_usd"] is None for row in billed)
    (cost_line,) = cost_axis.step(
        cost_times,
        costs,
        where="post",
        color=PALETTE["cost"],
        linestyle="--",
        linewidth=2,
        label="cost (USD)"
        + (", ≈ estimated" if estimated else "")
        + (", no price for some usage" if unpriced else ""),
        gid="cumulative:cost_usd",
    )
    lines.append(cost_line)
    cost_axis.annotate(
        f"{'≈' if estimated else ''}${costs[-1]:.4f}{' + unknown' if unpriced else ''}",
        xy=(times[-1], costs[-1]),
        xytext=(-4, 4),
        textcoords="offset points",
        ha="right",
        va="bottom",
        fontsize=_LABEL,
        color=PALETTE["cost"],
        gid="cost:total",
    )
    cost_axis.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"${v:.3g}"))
    cost_axis.set_ylabel("cumulative cost (USD)")
    cost_axis.set_ylim(0, costs[-1] * 1.15 if costs[-1] > 0 else 0.01)
    ax.set_ylim(
        0, max(max(cumulative("input_tokens")[-1], cumulative("output_tokens")[-1]), 1) * 1.15
    )
    ax.set_ylabel("cumulative tokens")
    ax.set_xlim(0.0, times[-1])
    ax.set_xlabel("seconds since session start")
    model = session.model or "model not reported"
    ax.set_title(f"Tokens and cost ({model})")
    ax.grid(alpha=0.3)
    if not rows:
        _no_data(ax, "no usage reported yet")
    ax.legend(handles=lines, loc="upper left", fontsize=_LABEL)
    return fig


def dashboard(
    session: SessionAnalysis, audio: AudioLike | None = None, *, spectrogram: bool = False
) -> Figure:
    """All the plots in one figure; the waveform panel only when ``audio`` is given."""
    rows = 4 if audio is not None else 3
    heights = [3.0, 2.6, 3.4, 3.0] if audio is not None else [3.0, 3.4, 3.0]
    fig = _figure(figsize=(14, sum(heights) + 0.6))
    grid = fig.add_gridspec(rows, 2, height_ratios=heights)
    timed = [fig.add_subplot(grid[0, :])]
    timeline(session, ax=timed[0])
    if audio is not None:
        timed.append(fig.add_subplot(grid[1, :]))
        waveform(session, audio, spectrogram=spectrogram, ax=timed[-1])
    latency_distribution(session, ax=fig.add_subplot(grid[rows - 2, 0]))
    talk_time(session, ax=fig.add_subplot(grid[rows - 2, 1]))
    timed.append(fig.add_subplot(grid[rows - 1, :]))
    tokens_and_cost(session, ax=timed[-1])
    # one time scale for the panels over time
    limits = [axis.get_xlim() for axis in timed]
    for axis in timed:
        axis.set_xlim(min(lo for lo, _ in limits), max(hi for _, hi in limits))
    name = getattr(session, "name", "") or "session"
    fig.suptitle(f"rt_notebook: {name}", fontsize=13)
    return fig


__all__ = [
    "PALETTE",
    "AudioLike",
    "AudioTrack",
    "dashboard",
    "latency_distribution",
    "talk_time",
    "timeline",
    "tokens_and_cost",
    "waveform",
]
