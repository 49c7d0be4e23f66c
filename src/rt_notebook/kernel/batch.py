"""Run many prompts through headless sessions and collect one table of results."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis.tables import Table
from ..wire.audio import SAMPLE_RATE
from ..wire.sideband import websocket_url
from ..wire.signaling import env_credentials
from .headless import HeadlessSession, reply_text

__all__ = ["run_batch"]

Prompt = str | Path | dict[str, Any]


async def run_batch(
    prompts: Sequence[Prompt],
    *,
    concurrency: int = 2,
    progress: bool = True,
    timeout: float = 120.0,
    pace: bool = False,
    **session_options: Any,
) -> Table:
    """Each prompt in a fresh headless session; a row per prompt, in prompt order.

    A prompt is text, a WAV path (``pathlib.Path``), or a dict: ``{"text": …}`` or
    ``{"audio": samples_or_path, "rate": 16000}``, optionally with a ``"name"``. At most
    ``concurrency`` sessions run at once. ``session_options`` go to ``HeadlessSession``
    (``instructions=…``, ``voice=…``, ``url=…``, ``local_scenario=…``). Without a key or a URL,
    every session talks to one in-process local backend. Failures become rows with an
    ``error``; the batch goes on.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    rows: list[dict[str, Any]] = [{} for _ in prompts]
    limit = asyncio.Semaphore(concurrency)
    bar = _progress(len(prompts)) if progress else None
    async with _shared_backend(session_options) as options:

        async def run(index: int, prompt: Prompt) -> None:
            async with limit:
                rows[index] = await _one(index, prompt, options, timeout, pace)
            if bar is not None:
                bar.update(1)

        await asyncio.gather(*(run(i, p) for i, p in enumerate(prompts)))
    if bar is not None:
        bar.close()
    return Table(rows)


async def _one(
    index: int, prompt: Prompt, options: dict[str, Any], timeout: float, pace: bool
) -> dict[str, Any]:
    row: dict[str, Any] = {"index": index, "prompt": str(prompt), "kind": None}
    session = HeadlessSession(**{k: v for k, v in options.items() if k != "_label"})
    try:
        kind, name, payload = _describe(prompt)
        row.update(prompt=name, kind=kind)
        await session.connect(timeout=timeout)
        seen = len(session.events.of("response.done"))
        if kind == "text":
            session.send_text(str(payload))
        else:
            samples, rate = payload
            await session.send_audio(samples, rate, pace=pace)
        done = await session.wait_for("response.done", count=seen + 1, timeout=timeout)
        response = done.response or {}
        timing = next(
            (r for r in session.latencies() if r["response_id"] == response.get("id")), {}
        )
        usage = session.cost()
        heard = [t.text for t in session.transcript if t.role == "user"]
        row.update(
            heard=heard[-1] if heard else "",
            reply=reply_text(done),
            status=response.get("status"),
            response_ms=timing.get("response_ms"),
            first_output_ms=timing.get("first_output_ms"),
            generation_ms=timing.get("generation_ms"),
            reply_audio_s=len(session.assistant_audio(str(response.get("id")))) / SAMPLE_RATE,
            input_tokens=usage["input_tokens"],
            output_tokens=usage["output_tokens"],
            cost_usd=usage["cost_usd"],
            backend=options.get("_label") or session.backend,
            error=None,
        )
    except Exception as exc:  # one failing prompt must not sink the batch
        row.update(error=f"{type(exc).__name__}: {exc}")
    finally:
        await session.close()
    return row


def _describe(prompt: Prompt) -> tuple[str, str, Any]:
    """(kind, name, payload) of a prompt; audio payloads are (samples, rate)."""
    from .headless import read_wav

    if isinstance(prompt, Path):
        return "audio", prompt.name, read_wav(prompt)
    if isinstance(prompt, str):
        return "text", prompt, prompt
    if "text" in prompt:
        return "text", str(prompt.get("name") or prompt["text"]), prompt["text"]
    if "audio" in prompt:
        audio = prompt["audio"]
        if isinstance(audio, (str, Path)):
            samples, rate = read_wav(audio)
            return "audio", str(prompt.get("name") or Path(audio).name), (samples, rate)
        rate = int(prompt.get("rate", SAMPLE_RATE))
        return (
            "audio",
            str(prompt.get("name") or f"audio {len(audio) / rate:.1f} s"),
            (np.asarray(audio), rate),
        )
    raise ValueError(f"a prompt is text, a WAV Path, or {{'text'|'audio': …}}; got {prompt!r}")


@contextlib.asynccontextmanager
async def _shared_backend(options: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    """Without a key or URL, one in-process local backend serves the whole batch."""
    if options.get("url") or options.get("api_key") or env_credentials().api_key:
        yield options
        return
    from ..local.backend import LocalOptions, LocalRealtime
    from ..local.server import serve_private

    scenario = options.pop("local_scenario", None)
    backend = LocalRealtime(LocalOptions(scenario=scenario, realtime_factor=4.0))
    async with serve_private(backend) as (base, key):
        yield {**options, "url": websocket_url(base), "api_key": key, "_label": "local"}


class _Bar:
    """tqdm when installed, else an ipywidgets progress bar in a notebook, else nothing."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0
        self._tqdm: Any = None
        self._widget: Any = None
        try:
            from tqdm.auto import tqdm

            self._tqdm = tqdm(total=total, desc="prompts")
        except ImportError:
            self._widget = _notebook_bar(total)

    def update(self, count: int) -> None:
        self.done += count
        if self._tqdm is not None:
            self._tqdm.update(count)
        elif self._widget is not None:
            self._widget.value = self.done
            self._widget.description = f"{self.done}/{self.total}"

    def close(self) -> None:
        if self._tqdm is not None:
            self._tqdm.close()


def _notebook_bar(total: int) -> Any:
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return None
    if get_ipython() is None:
        return None
    import ipywidgets

    bar = ipywidgets.IntProgress(value=0, min=0, max=total, description=f"0/{total}")
    display(bar)  # type: ignore[no-untyped-call]
    return bar


def _progress(total: int) -> _Bar:
    return _Bar(total)
