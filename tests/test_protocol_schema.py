"""The widget protocol's one schema: its generated files are current, and the kernel's widget,
session and server use it (rt_notebook.wire.widget_protocol)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, get_args

import ipywidgets
import pytest
from pydantic import TypeAdapter, ValidationError
from typing_extensions import get_type_hints

from rt_notebook import RealtimeSession
from rt_notebook.errors import RealtimeError
from rt_notebook.kernel.widget import RealtimeWidget
from rt_notebook.wire import widget_protocol as schema

ROOT = Path(__file__).resolve().parents[1]


def kinds(union: Any) -> set[str]:
    return {get_args(get_type_hints(m)["kind"])[0] for m in schema.union_members(union)}


def test_generated_files_are_current() -> None:
    """js/generated/protocol.ts and the tables of docs/widget-protocol.md match the schema
    (if not: python scripts/gen_protocol.py)."""
    check = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_protocol.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_generated_typescript_declares_every_message_and_trait() -> None:
    ts = (ROOT / "js" / "generated" / "protocol.ts").read_text()
    for kind in kinds(schema.KernelMessage) | kinds(schema.WidgetMessage):
        assert f'kind: "{kind}";' in ts
    assert 'kind: "audio";' in ts  # the message the hand-written union used to miss
    for trait in schema.TRAITS:
        assert f"  {trait.name}: " in ts


def test_widget_syncs_exactly_the_schemas_traits_with_its_defaults() -> None:
    base = set(ipywidgets.DOMWidget.class_trait_names(sync=True))
    synced = set(RealtimeWidget.class_trait_names(sync=True)) - base
    assert synced == {trait.name for trait in schema.TRAITS}
    widget = RealtimeWidget()
    for trait in schema.TRAITS:
        assert getattr(widget, trait.name) == trait.default, trait.name


def test_widget_refuses_a_status_the_schema_does_not_know() -> None:
    widget = RealtimeWidget()
    for status in schema.literal_values(schema.Status):
        widget.status = status
    with pytest.raises(Exception, match="status"):
        widget.status = "bogus"
    assert widget.status == "error"


def test_kernel_handles_every_widget_message_kind() -> None:
    session = RealtimeSession()
    assert set(session._message_handlers) == kinds(schema.WidgetMessage)


def test_kernel_sends_only_schema_messages() -> None:
    session = RealtimeSession()
    sent: list[dict[str, Any]] = []
    session.widget.send = lambda content, buffers=None: sent.append(content)
    session.connect()
    session.send({"type": "response.create"})
    session.send_image(b"\x89PNG\r\n\x1a\n", respond=False)
    session.disconnect()
    adapter: TypeAdapter[Any] = TypeAdapter(schema.KernelMessage)
    for message in sent:
        adapter.validate_python(message)
    assert [m["kind"] for m in sent] == ["connect", "send", "send", "disconnect"]


def test_error_bodies_follow_the_schema() -> None:
    error = RealtimeError(400, "invalid_session", "bad voice", param="audio.output.voice")
    TypeAdapter(schema.ErrorBody).validate_python(error.to_json())
    TypeAdapter(schema.CallError).validate_python({"status": 400, **error.detail()})
    with pytest.raises(ValidationError):
        TypeAdapter(schema.ErrorBody).validate_python({"error": {"code": "x"}})


async def test_server_status_body_follows_the_schema(jp_fetch: Any) -> None:
    body = json.loads((await jp_fetch("api", "rt-notebook", "status")).body)
    keys = schema.ServerStatus.__required_keys__
    assert keys <= set(body) <= keys | schema.ServerStatus.__optional_keys__
    assert keys == set(get_type_hints(schema.ServerStatus)) - {"budget"}
    TypeAdapter(schema.ServerStatus).validate_python(body, strict=True)
