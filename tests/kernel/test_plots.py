"""Plots of the scripted session: the artists carry the session's known times and values."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.artist import Artist
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.text import Text

import rt_notebook as rt
from rt_notebook import plots
from rt_notebook.analysis import plots as plot_impl
from rt_notebook.kernel.recordings import Recording
from rt_notebook.testing import ScriptedFrontend

from .test_analytics import scripted_session

RATE = 24000
T0 = 1000.0  # the scripted session's first event


def by_gid(fig: Artist, gid: str) -> list[Any]:
    return list(fig.findobj(lambda artist: isinstance(artist, Artist) and artist.get_gid() == gid))


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text)]


def bars(fig: Artist, gid: str) -> list[tuple[float, float]]:
    return [(r.get_x(), r.get_width()) for r in by_gid(fig, gid) if isinstance(r, Rectangle)]


def sine(seconds: float, start: float) -> tuple[np.ndarray, float]:
    t = np.arange(round(seconds * RATE)) / RATE
    return 0.5 * np.sin(2 * np.pi * 220 * t), start


def test_timeline_bars_and_latencies() -> None:
    s, _ = scripted_session()
    fig = plots.timeline(s)
    assert isinstance(fig, Figure)
    # user: speech 1001-1003, typed at 1010.1 (instantaneous: drawn at the minimum width)
    assert bars(fig, "turn:user") == [
        (pytest.approx(1.0), pytest.approx(2.0)),
        (pytest.approx(10.1), pytest.approx(0.15)),
    ]
    # assistant: playback starts at 1003.5 and lasts 3 s; the cut reply starts at its first
    # output (1011.2) and runs to response.done (1012.8)
    assert bars(fig, "turn:assistant") == [
        (pytest.approx(3.5), pytest.approx(3.0)),
        (pytest.approx(11.2), pytest.approx(1.6)),
    ]
    hatches = [r.get_hatch() for r in by_gid(fig, "turn:assistant")]
    assert hatches == [None, "///"]  # only the interrupted reply
    # trigger to first output (r3, a function call, has none: to response.created)
    assert bars(fig, "latency:span") == [
        (pytest.approx(3.0), pytest.approx(0.5)),
        (pytest.approx(10.0), pytest.approx(0.4)),
        (pytest.approx(10.6), pytest.approx(0.6)),
    ]
    labels = [t.get_text() for t in by_gid(fig, "latency:response_ms")]
    assert labels == ["300 ms", "400 ms", "400 ms"]
    assert [t.get_text() for t in by_gid(fig, "latency:first_output_ms")] == ["500 ms", "600 ms"]
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["assistant", "user"]
    assert ax.get_xlabel() == "seconds since session start"
    legend = ax.get_legend()
    assert legend is not None
    assert {"user", "assistant", "interrupted", "typed"} <= {t.get_text() for t in legend.texts}
    assert "“Compute an area”" in texts(fig)


def test_latency_distribution_marks_median_and_p90() -> None:
    s, _ = scripted_session()
    fig = plots.latency_distribution(s)
    (median,) = by_gid(fig, "median:response_ms")
    assert list(median.get_xdata()) == pytest.approx([400.0, 400.0])  # of 300, 400, 400
    (p90,) = by_gid(fig, "p90:first_output_ms")
    assert list(p90.get_xdata()) == pytest.approx([590.0, 590.0])  # of 500, 600
    (summary,) = by_gid(fig, "summary:response_ms")
    assert summary.get_text().startswith("median 400 ms · p90 400 ms")
    (points,) = by_gid(fig, "points:first_output_ms")
    assert isinstance(points, PathCollection)
    assert sorted(points.get_offsets()[:, 0]) == pytest.approx([500.0, 600.0])
    # the tool call (output sent right after its arguments) gets a row of its own
    (tool,) = by_gid(fig, "median:tool_call_ms")
    assert list(tool.get_xdata()) == pytest.approx([0.0, 0.0])
    assert fig.axes[0].get_xlabel() == "milliseconds"


def test_talk_time_and_words_per_minute() -> None:
    s, _ = scripted_session()
    fig = plots.talk_time(s)

    def height(gid: str) -> float:
        (bar,) = by_gid(fig, gid)
        return float(bar.get_height())

    # user: 2 s of speech, "Hi there"; the typed turn has no talk time and does not count
    assert height("talk:user") == pytest.approx(2.0)
    assert height("wpm:user") == pytest.approx(2 / (2.0 / 60))
    # assistant: 3 s "Hello there friend" + 1.5 s heard of the cut reply, "one two three four"
    assert height("talk:assistant") == pytest.approx(4.5)
    assert height("wpm:assistant") == pytest.approx(7 / (4.5 / 60))
    assert {"2.0 s", "4.5 s", "60", "93"} <= set(texts(fig))
    colours = {gid: by_gid(fig, gid)[0].get_facecolor()[:3] for gid in ("talk:user", "wpm:user")}
    assert colours["talk:user"] == pytest.approx(matplotlib.colors.to_rgb(plots.PALETTE["user"]))
    assert colours["wpm:user"] == pytest.approx(colours["talk:user"])


def test_tokens_and_cost_end_at_the_session_totals() -> None:
    s, _ = scripted_session()
    fig = plots.tokens_and_cost(s)
    totals = s.cost()
    (cost,) = by_gid(fig, "cumulative:cost_usd")
    (inputs,) = by_gid(fig, "cumulative:input_tokens")
    (outputs,) = by_gid(fig, "cumulative:output_tokens")
    assert cost.get_ydata()[-1] == pytest.approx(totals["cost_usd"])
    assert inputs.get_ydata()[-1] == totals["input_tokens"] == 140
    assert outputs.get_ydata()[-1] == totals["output_tokens"] == 260
    # steps at the two response.done events carrying usage: 1004.2 and 1012.8
    assert list(inputs.get_xdata()[:3]) == pytest.approx([0.0, 4.2, 12.8])
    assert list(inputs.get_ydata()[:3]) == [0, 100, 140]
    (label,) = by_gid(fig, "cost:total")
    assert label.get_text() == f"≈${totals['cost_usd']:.4f}"  # r2 sent only totals


def test_waveform_line_and_turn_spans() -> None:
    s, _ = scripted_session()
    samples, start = sine(2.0, 1001.0)
    fig = plots.waveform(s, (samples, start))
    (line,) = by_gid(fig, "waveform")
    assert isinstance(line, Line2D)
    x = line.get_xdata()
    assert len(x) == len(samples) == 48000
    assert (x[0], x[-1]) == (pytest.approx(1.0), pytest.approx(1.0 + 47999 / RATE))
    assert max(line.get_ydata()) == pytest.approx(0.5, abs=1e-3)
    spans = [
        (r.get_x(), r.get_width())
        for role in ("user", "assistant")
        for r in by_gid(fig, f"turn:{role}")
    ]
    assert spans == [
        (pytest.approx(1.0), pytest.approx(2.0)),
        (pytest.approx(10.1), pytest.approx(0.15)),
        (pytest.approx(3.5), pytest.approx(3.0)),
        (pytest.approx(11.2), pytest.approx(1.6)),
    ]
    assert texts(fig).count("user") == 2
    assert texts(fig).count("assistant") == 2


def test_waveform_takes_recordings_long_audio_and_spectrograms() -> None:
    s, _ = scripted_session()
    mic = Recording("mic")
    pcm = (np.sin(np.arange(RATE) / 10) * 32767).astype("<i2")
    mic.append(pcm.tobytes(), 1001.0 * 1000)
    fig = plots.waveform(s, mic)
    (line,) = by_gid(fig, "waveform")
    assert len(line.get_xdata()) == RATE
    assert max(abs(line.get_ydata())) == pytest.approx(1.0, abs=1e-3)  # int16 scaled

    samples, start = sine(20.0, T0)  # long: drawn as a min/max envelope
    fig = plots.waveform(s, SimpleNamespace(samples=samples, start_time=start))
    (envelope,) = by_gid(fig, "waveform")
    assert isinstance(envelope, PolyCollection)
    xs = envelope.get_paths()[0].vertices[:, 0]
    assert (xs.min(), xs.max()) == (pytest.approx(0.0), pytest.approx(20.0, abs=0.01))

    fig = plots.waveform(s, sine(14.0, T0), spectrogram=True)
    (image,) = fig.axes[0].images
    assert isinstance(image, AxesImage)
    left, right, bottom, top = image.get_extent()
    assert (left, right, bottom, top) == (0.0, pytest.approx(14.0), 0.0, RATE / 2)
    assert len(by_gid(fig, "turn:user")) + len(by_gid(fig, "turn:assistant")) == 4


def test_waveform_without_usable_audio_explains() -> None:
    s, _ = scripted_session()
    with pytest.raises(ValueError, match=r"session\.recordings\.mic"):
        plots.waveform(s)
    with pytest.raises(ValueError, match="nothing was recorded"):
        plots.waveform(s, Recording("mic"))
    with pytest.raises(ValueError, match="mono"):
        plots.waveform(s, (np.zeros((10, 2)), T0))
    with pytest.raises(ValueError, match="at least 512 samples"):
        plots.waveform(s, (np.zeros(100), T0), spectrogram=True)


def test_figures_save_as_png(tmp_path: Path) -> None:
    s, _ = scripted_session()
    audio = sine(3.0, 1001.0)
    figures = {
        "timeline": plots.timeline(s),
        "latency": plots.latency_distribution(s),
        "waveform": plots.waveform(s, audio),
        "spectrogram": plots.waveform(s, audio, spectrogram=True),
        "talk": plots.talk_time(s),
        "tokens": plots.tokens_and_cost(s),
        "dashboard": plots.dashboard(s, audio),
    }
    for name, fig in figures.items():
        path = tmp_path / f"{name}.png"
        fig.savefig(path)
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG"), name
        assert len(data) > 15_000, name


def test_drawing_into_given_axes_and_no_pyplot_figures() -> None:
    s, _ = scripted_session()
    before = plt.get_fignums()
    for plot in (
        plots.timeline,
        plots.latency_distribution,
        plots.talk_time,
        plots.tokens_and_cost,
        plots.dashboard,
    ):
        assert isinstance(plot(s), Figure)
    assert plt.get_fignums() == before  # nothing registered with pyplot

    host = Figure()
    left, right = host.subplots(1, 2)
    assert plots.timeline(s, ax=left) is host
    assert plots.waveform(s, sine(1.0, T0), ax=right) is host
    assert len(bars(left, "turn:user")) == len(bars(right, "turn:user")) == 2
    assert left.get_title() == "Who spoke when"
    assert by_gid(host, "waveform")[0].axes is right

    sub = Figure().subfigures(1, 2)[1]
    assert plots.talk_time(s, ax=sub.add_subplot()) is sub.figure  # the root figure


def test_dashboard_panels() -> None:
    s, _ = scripted_session()
    fig = plots.dashboard(s)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == [
        "Who spoke when",
        "Latency distribution",
        "Talk time and speaking rate",
        "Tokens and cost (gpt-realtime-2.1)",
    ]
    fig = plots.dashboard(s, sine(2.0, 1001.0))
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[1] == "Waveform with turns"
    timed = [ax for ax in fig.axes if ax.get_xlabel() == "seconds since session start"]
    assert len(timed) == 3
    assert len({ax.get_xlim() for ax in timed}) == 1  # one time scale


def test_recorded_and_empty_sessions(tmp_path: Path) -> None:
    s, _ = scripted_session()
    loaded = rt.load_session(s.save(tmp_path / "s.jsonl"))
    assert bars(plots.timeline(loaded), "turn:assistant") == bars(
        plots.timeline(s), "turn:assistant"
    )
    fig = plots.tokens_and_cost(loaded)
    assert by_gid(fig, "cumulative:cost_usd")[0].get_ydata()[-1] == pytest.approx(
        s.cost()["cost_usd"]
    )

    empty = rt.RealtimeSession()
    assert "no turns yet" in texts(plots.timeline(empty))
    assert "no usage reported yet" in texts(plots.tokens_and_cost(empty))
    assert "no data" in texts(plots.latency_distribution(empty))
    assert by_gid(plots.talk_time(empty), "talk:user")[0].get_height() == 0
    plots.dashboard(empty).savefig(tmp_path / "empty.png")


def crowded_session() -> rt.RealtimeSession:
    """Two typed turns half a second apart, two replies to one trigger, short spoken turns."""
    from .test_analytics import ev, play

    s = rt.RealtimeSession()
    frontend = ScriptedFrontend(s)

    def typed(item_id: str, text: str) -> dict[str, Any]:
        content = [{"type": "input_text", "text": text}]
        item = {"id": item_id, "type": "message", "role": "user", "content": content}
        return ev("conversation.item.added", item=item)

    def reply(rid: str, item_id: str, t: float, text: str) -> list[tuple[float, Any]]:
        item = {"id": item_id, "type": "message", "role": "assistant", "content": []}
        done_item = {**item, "status": "completed", "content": [{"type": "output_audio"}]}
        return [
            (t, ev("response.created", response={"id": rid, "status": "in_progress"})),
            (t, ev("response.output_item.added", response_id=rid, item=item)),
            (t, ev("conversation.item.added", item=item)),
            (t + 0.2, ev("output_audio_buffer.started", response_id=rid)),
            (
                t + 0.2,
                ev("response.output_audio_transcript.done", item_id=item_id, transcript=text),
            ),
            (
                t + 0.4,
                ev(
                    "response.done",
                    response={"id": rid, "status": "completed", "output": [done_item]},
                ),
            ),
            (t + 0.6, ev("output_audio_buffer.stopped", response_id=rid)),
        ]

    tool_output = {
        "type": "conversation.item.create",
        "item": {"type": "function_call_output", "call_id": "c9", "output": "ok"},
    }
    script: list[tuple[float, Any]] = [
        (1000.0, ev("session.created", session={"type": "realtime", "model": "gpt-realtime"})),
        (1001.0, lambda: s.send_text("Tell me a story about a lighthouse", respond=False)),
        (1001.0, typed("u1", "Tell me a story about a lighthouse")),
        (1001.5, lambda: s.send_text("Stop, thank you.", respond=False)),
        (1001.5, typed("u2", "Stop, thank you.")),
        *reply("r1", "a1", 1001.6, "Sure."),
        (1001.65, lambda: s.send(tool_output)),  # a second trigger just after: labels meet
        *reply("r2", "a2", 1001.7, "Okay."),
    ]
    for k in range(4):  # short spoken turns in a row
        start = 1004.0 + k * 0.3
        item_id = f"v{k}"
        script += [
            (start, ev("input_audio_buffer.speech_started", item_id=item_id, audio_start_ms=0)),
            (
                start + 0.2,
                ev("input_audio_buffer.speech_stopped", item_id=item_id, audio_end_ms=200),
            ),
            (
                start + 0.21,
                ev(
                    "conversation.item.added",
                    item={
                        "id": item_id,
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_audio"}],
                    },
                ),
            ),
            (
                start + 0.22,
                ev(
                    "conversation.item.input_audio_transcription.completed",
                    item_id=item_id,
                    transcript="Yes.",
                ),
            ),
        ]
    play(frontend, script)
    return s


def assert_no_text_overlap(fig: Figure) -> int:
    """No two visible labels share ink (boxes from the renderer, cut to their clipping)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    boxes = []
    for text in fig.findobj(Text):
        box = plot_impl.visible_extent(text, renderer)
        if box is not None:
            boxes.append((text.get_text(), box))
    for i, (a_text, a) in enumerate(boxes):
        for b_text, b in boxes[i + 1 :]:
            assert not plot_impl.overlaps(a, b), f"{a_text!r} overlaps {b_text!r}"
    return len(boxes)


@pytest.mark.parametrize("session", ["scripted", "crowded"])
def test_labels_never_overlap(session: str) -> None:
    s = scripted_session()[0] if session == "scripted" else crowded_session()
    audio = sine(8.0, T0 + 0.5)
    figures = [
        plots.timeline(s),
        plots.latency_distribution(s),
        plots.talk_time(s),
        plots.tokens_and_cost(s),
        plots.waveform(s, audio),
        plots.waveform(s, audio, spectrogram=True),
    ]
    for fig in figures:
        assert assert_no_text_overlap(fig) > 3  # titles, ticks and labels were checked
    if session == "crowded":
        labels = [t.get_text() for t in figures[0].findobj(Text) if t.get_visible()]
        assert any(text.startswith("“Tell me") for text in labels)  # both typed turns readable
        assert "“Stop, thank you.”" in labels
        # two responses whose latency labels met at one x: all four figures still shown
        for gid in ("latency:response_ms", "latency:first_output_ms"):
            shown = [t.get_text() for t in by_gid(figures[0], gid) if t.get_visible()]
            assert len(shown) == 2, gid


def test_timeline_marks_where_the_session_went_on_in_a_new_call() -> None:
    s, frontend = scripted_session()
    assert by_gid(plots.timeline(s), "continuity:new_call") == []
    frontend.clock = lambda: 1020.0 * 1000.0
    frontend.emit({"type": "rt_notebook.reconnected", "call_id": "c2", "rollover": False})
    frontend.clock = lambda: 1030.0 * 1000.0
    frontend.emit({"type": "rt_notebook.reconnected", "call_id": "c3", "rollover": True})
    fig = plots.timeline(s)
    lines = by_gid(fig, "continuity:new_call")
    assert [line.get_xdata()[0] for line in lines] == [pytest.approx(20.0), pytest.approx(30.0)]
    labels = [t.get_text() for t in by_gid(fig, "continuity:label")]
    assert labels == [" reconnected", " rolled over"]
    plt.close(fig)
