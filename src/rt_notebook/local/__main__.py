"""``python -m rt_notebook.local``: run the local realtime backend as a standalone server."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from tornado.httpserver import HTTPServer

from ..wire.models import DEFAULT_MODEL
from .access import Access, normalize_origin
from .backend import LocalOptions, LocalRealtime
from .responders import load_scenario
from .server import MAX_BODY_BYTES, make_app
from .workers import serve_workers, until_signalled, worker_count


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line, every option explained in --help."""
    parser = argparse.ArgumentParser(
        prog="python -m rt_notebook.local",
        description="A local server that speaks the OpenAI Realtime API (GA) and the GPT-Live "
        "API and needs no API key. Point a client at http://HOST:PORT/v1 as if it were OpenAI: "
        "POST /v1/realtime/calls (WebRTC), POST /v1/realtime/client_secrets, WebSocket "
        "/v1/realtime?model=… and sideband /v1/realtime?call_id=rtc_…; GPT-Live: POST "
        "/v1/live/sessions (JSON WebRTC exchange), WebSocket /v1/live/sessions (session.start "
        "first) and sideband /v1/live/sessions/{id}/attach. Any Bearer key works "
        "unless --api-key is given. Web pages may use it only from loopback origins "
        "(localhost, 127.0.0.1, [::1]) and those given with --allow-origin.",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; only loopback is sensible). Requests "
        "must address a loopback name, this address or an --allow-origin host (no DNS "
        "rebinding)",
    )
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (default 8765)")
    parser.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        type=origin,
        help="also let web pages from ORIGIN (e.g. http://myhost:3000) use this backend; "
        "repeat for more. Pages from loopback origins are always allowed, all others refused",
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("RT_NOTEBOOK_LOCAL_API_KEY"),
        metavar="KEY",
        help="accept only this Bearer key (and ephemeral keys minted with it) instead of any; "
        "default: $RT_NOTEBOOK_LOCAL_API_KEY, which keeps the key out of the process list",
    )
    parser.add_argument(
        "--max-records",
        type=int,
        default=100,
        metavar="N",
        help="keep the records of the last N ended sessions for /v1/local/sessions (default 100)",
    )
    parser.add_argument(
        "--scenario",
        metavar="FILE",
        help="a JSON scenario: a list of steps "
        '(e.g. [{"say": "Hi!"}, {"call": "get_time", "arguments": {}}]) played '
        "one per response; without it the backend answers about what it heard",
    )
    parser.add_argument(
        "--transcriber",
        choices=["honest", "pocketsphinx"],
        default="honest",
        help='input transcription: "honest" says "(speech, 1.4 s)" and never '
        'invents words (default); "pocketsphinx" needs pip install pocketsphinx',
    )
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"the model sessions report when they ask for none (default {DEFAULT_MODEL})",
    )
    parser.add_argument(
        "--answer-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="fault: wait this long before answering an SDP offer",
    )
    parser.add_argument(
        "--session-seconds",
        type=int,
        default=3600,
        metavar="SECONDS",
        help="sessions expire this long after they start (expires_at), then end with a "
        "session_expired error (OpenAI: 60 minutes); short values test rollover",
    )
    parser.add_argument(
        "--http-error",
        metavar="STATUS[:CODE[:MESSAGE]]",
        type=http_error,
        help="fault: answer every call with this HTTP error, e.g. "
        "429:insufficient_quota:'You exceeded your current quota.'",
    )
    parser.add_argument(
        "--drop-data-channel-after",
        type=int,
        metavar="N",
        help="fault: close the data channel after N server events",
    )
    parser.add_argument(
        "--realtime-factor",
        type=float,
        default=1.0,
        metavar="X",
        help="generate WebSocket responses X times faster than real time "
        "(default 1; WebRTC always plays in real time)",
    )
    parser.add_argument(
        "--workers",
        default="1",
        type=workers,
        metavar="N",
        help="worker processes (a number, or auto: one per CPU core); with more than one, "
        "calls are spread over them behind this port, so a class can talk at once "
        "(default 1: one process)",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging level (default INFO)",
    )
    return parser.parse_args(argv)


def http_error(text: str) -> dict[str, Any]:
    """``STATUS[:CODE[:MESSAGE]]`` → ``{"status", "code", "message"}``."""
    status, _, rest = text.partition(":")
    code, _, message = rest.partition(":")
    if not status.isdigit() or not 400 <= int(status) <= 599:
        raise argparse.ArgumentTypeError(f"{text!r}: STATUS must be an HTTP error code, 400-599")
    return {
        "status": int(status),
        "code": code or "injected_error",
        "message": message or "Injected failure (--http-error).",
    }


def origin(text: str) -> str:
    """An ``--allow-origin`` value, normalized."""
    try:
        return normalize_origin(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def workers(text: str) -> int:
    """A ``--workers`` value."""
    try:
        return worker_count(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def options_from(args: argparse.Namespace) -> LocalOptions:
    """LocalOptions from parsed arguments."""
    return LocalOptions(
        scenario=load_scenario(args.scenario) if args.scenario else None,
        transcriber=args.transcriber,
        model=args.model,
        answer_delay=args.answer_delay,
        http_error=args.http_error,
        drop_data_channel_after=args.drop_data_channel_after,
        session_seconds=max(1, args.session_seconds),
        realtime_factor=args.realtime_factor,
        max_records=max(0, args.max_records),
    )


async def serve(args: argparse.Namespace) -> None:
    """Run until SIGINT or SIGTERM."""
    backend = LocalRealtime(options_from(args))
    access = Access.create(args.allow_origin, args.api_key, args.host)
    server = HTTPServer(make_app(backend, access), max_body_size=MAX_BODY_BYTES)
    server.listen(args.port, args.host)
    logging.getLogger(__name__).info(
        "rt_notebook local backend on http://%s:%d/v1 (Ctrl+C to stop); %s; pages allowed from "
        "loopback origins%s",
        args.host,
        args.port,
        "only the --api-key key is accepted" if access.api_key else "any Bearer key is accepted",
        "".join(f", {o}" for o in sorted(access.allow_origins)),
    )
    await until_signalled()
    server.stop()
    await backend.close()


async def serve_front(args: argparse.Namespace, argv: Sequence[str]) -> None:
    """``--workers N``: a front on the port, N worker processes behind it; until a signal."""

    async with serve_workers(args.workers, argv, host=args.host, port=args.port) as (_, url):
        logging.getLogger(__name__).info(
            "rt_notebook local backend on %s, calls spread over %d worker processes "
            "(Ctrl+C to stop)",
            url,
            args.workers,
        )
        await until_signalled()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    asyncio.run(serve_front(args, argv) if args.workers > 1 else serve(args))


if __name__ == "__main__":
    main()
